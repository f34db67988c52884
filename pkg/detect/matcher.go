package detect

import "fmt"

// ruleSet is a fixed-size bit set of rule indexes.
type ruleSet [4]uint64

func (s *ruleSet) add(i int)         { s[i>>6] |= 1 << (uint(i) & 63) }
func (s *ruleSet) has(i int) bool    { return s[i>>6]&(1<<(uint(i)&63)) != 0 }
func (s *ruleSet) or(o *ruleSet)     { s[0] |= o[0]; s[1] |= o[1]; s[2] |= o[2]; s[3] |= o[3] }
func (s *ruleSet) and(o *ruleSet)    { s[0] &= o[0]; s[1] &= o[1]; s[2] &= o[2]; s[3] &= o[3] }
func (s *ruleSet) empty() bool       { return s[0]|s[1]|s[2]|s[3] == 0 }
func (s *ruleSet) andNot(o *ruleSet) { s[0] &^= o[0]; s[1] &^= o[1]; s[2] &^= o[2]; s[3] &^= o[3] }
func (s ruleSet) intersects(o ruleSet) bool {
	return s[0]&o[0]|s[1]&o[1]|s[2]&o[2]|s[3]&o[3] != 0
}

// matcher finds, in one pass over a value, every rule with a trigger literal
// occurring in it (Aho-Corasick over all triggers of all rules). Scanning
// costs one table lookup per byte whatever the number of rules.
type matcher struct {
	// class maps a byte to its column; bytes that occur in no trigger share
	// column 0. Compressing the alphabet keeps the table small enough to stay
	// in cache, which is most of the matcher's speed.
	class  [256]uint8
	stride int
	next   []uint16  // state*stride + class -> state
	out    []ruleSet // rules whose trigger ends at this state (failure chain merged)
	hit    []bool    // out[state] is not empty
}

// maxStates bounds the automaton so that states fit the uint16 table.
const maxStates = 1<<16 - 1

func newMatcher(triggers [][]string) (*matcher, error) {
	type node struct {
		child map[byte]int32
		out   ruleSet
	}
	nodes := []node{{child: map[byte]int32{}}}
	for rule, ts := range triggers {
		for _, t := range ts {
			s := int32(0)
			for i := 0; i < len(t); i++ {
				c := t[i]
				n, ok := nodes[s].child[c]
				if !ok {
					if len(nodes) >= maxStates {
						return nil, fmt.Errorf("detect: rule file: triggers too long (more than %d automaton states)", maxStates)
					}
					n = int32(len(nodes))
					nodes = append(nodes, node{child: map[byte]int32{}})
					nodes[s].child[c] = n
				}
				s = n
			}
			nodes[s].out.add(rule)
		}
	}
	m := &matcher{
		out: make([]ruleSet, len(nodes)),
		hit: make([]bool, len(nodes)),
	}
	ncls := 1
	for _, ts := range triggers {
		for _, t := range ts {
			for i := 0; i < len(t); i++ {
				if m.class[t[i]] == 0 {
					m.class[t[i]] = uint8(ncls)
					ncls++
				}
			}
		}
	}
	// Triggers are lower case and matching is ASCII case-insensitive: an
	// upper-case letter behaves as its lower-case form, so values are scanned
	// as decoded, without a lower-cased copy.
	for c := byte('A'); c <= 'Z'; c++ {
		m.class[c] = m.class[c+'a'-'A']
	}
	m.stride = ncls
	next := make([]int32, len(nodes)*256)
	fail := make([]int32, len(nodes))
	queue := make([]int32, 0, len(nodes))
	for c := 0; c < 256; c++ {
		if n, ok := nodes[0].child[byte(c)]; ok {
			next[c] = n
			queue = append(queue, n)
		}
	}
	m.out[0] = nodes[0].out
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		m.out[s] = nodes[s].out
		m.out[s].or(&m.out[fail[s]])
		for c := 0; c < 256; c++ {
			n, ok := nodes[s].child[byte(c)]
			if !ok {
				next[int(s)*256+c] = next[int(fail[s])*256+c]
				continue
			}
			fail[n] = next[int(fail[s])*256+c]
			next[int(s)*256+c] = n
			queue = append(queue, n)
		}
	}
	for i := range m.out {
		m.hit[i] = !m.out[i].empty()
	}
	// Compress: every byte of one class behaves the same in every state.
	m.next = make([]uint16, len(nodes)*ncls)
	for st := range nodes {
		for c := 0; c < 256; c++ {
			m.next[st*ncls+int(m.class[c])] = uint16(next[st*256+c])
		}
	}
	return m, nil
}

// scan ORs into set the rules triggered by b, ignoring ASCII case. The scan starts as if a space
// preceded b, so a trigger written with a leading space (" or") also matches
// at the start of the value.
func (m *matcher) scan(b []byte, set *ruleSet) {
	stride, next, hit, class := m.stride, m.next, m.hit, &m.class
	s := int(next[int(class[' '])])
	if hit[s] {
		set.or(&m.out[s])
	}
	for _, c := range b {
		s = int(next[s*stride+int(class[c])])
		if hit[s] {
			set.or(&m.out[s])
		}
	}
}
