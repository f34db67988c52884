package kongsim

import (
	"fmt"
	"strconv"
	"strings"
)

// kongVersion is the modelled Kong release. Only the minor number matters:
// every behaviour difference kong-reference names is between 3.x minors.
type kongVersion struct {
	minor int
	full  string // what Server and Via carry
}

// releases are the modelled versions and the patch release they stand for.
var releases = map[int]string{
	4: "3.4.2", 5: "3.5.0", 6: "3.6.1", 7: "3.7.1", 8: "3.8.0", 9: "3.9.1", 10: "3.10.0",
}

func parseKongVersion(s string) (kongVersion, error) {
	if s == "" {
		s = "3.9"
	}
	parts := strings.Split(s, ".")
	if len(parts) < 2 || parts[0] != "3" {
		return kongVersion{}, fmt.Errorf("kong version %q: want 3.<minor>, 3.4 to 3.10", s)
	}
	minor, err := strconv.Atoi(parts[1])
	if err != nil {
		return kongVersion{}, fmt.Errorf("kong version %q: %w", s, err)
	}
	full, ok := releases[minor]
	if !ok {
		return kongVersion{}, fmt.Errorf("kong version %q: not modelled (3.4 to 3.10)", s)
	}
	return kongVersion{minor: minor, full: full}, nil
}

func (v kongVersion) atLeast(minor int) bool { return v.minor >= minor }

func (v kongVersion) String() string { return v.full }
