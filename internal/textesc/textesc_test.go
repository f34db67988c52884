package textesc

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAppendEscapesReplacesAndKeeps(t *testing.T) {
	tab := NewTable(`\=`, map[byte]string{'\n': `\n`})
	assert.Equal(t, `a\=b\\c\n d é `+"\uFFFD", string(Append(nil, "a=b\\c\n\td é \xff", tab)))
}

func TestCutKeepsRunesWhole(t *testing.T) {
	assert.Equal(t, "ab", Cut("abé", 3), "é is two bytes")
	assert.Equal(t, "abé", Cut("abé", 4))
	assert.Equal(t, "", Cut("abc", 0))
	assert.Equal(t, []byte("a"), Cut([]byte("aé"), 2))
}
