package blocklist

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/blocklist/record"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		name, arg, want, wantErr string
	}{
		{name: "a bare IPv4 address becomes an ip subject", arg: "203.0.113.7", want: "ip:203.0.113.7"},
		{name: "a bare IPv6 address is written in canonical form", arg: "2001:DB8:0::7", want: "ip:2001:db8::7"},
		{name: "an IPv4-mapped address is unmapped", arg: "::ffff:203.0.113.7", want: "ip:203.0.113.7"},
		{name: "an explicit ip subject is canonicalised", arg: "ip:::ffff:203.0.113.7", want: "ip:203.0.113.7"},
		{name: "a bare network becomes a cidr subject", arg: "203.0.113.0/24", want: "cidr:203.0.113.0/24"},
		{name: "an IPv6 network stays IPv6", arg: "cidr:2001:db8::/32", want: "cidr:2001:db8::/32"},
		{name: "an IPv4-mapped network becomes IPv4", arg: "::ffff:203.0.113.0/120", want: "cidr:203.0.113.0/24"},
		{name: "a consumer subject passes through", arg: "consumer:c0ffee-01", want: "consumer:c0ffee-01"},
		{name: "an API-key fingerprint subject passes through", arg: "apikey-fp:9f86d081884c7d65", want: "apikey-fp:9f86d081884c7d65"},
		{name: "an octet past 255 is a bad IP address", arg: "203.0.113.999", wantErr: `bad IP address "203.0.113.999"`},
		{name: "a bad explicit ip is named", arg: "ip:10.0.0", wantErr: `bad IP address "ip:10.0.0"`},
		{name: "a zone is refused", arg: "fe80::1%eth0", wantErr: "zone"},
		{name: "a prefix length past 32 is a bad CIDR", arg: "203.0.113.0/33", wantErr: `bad CIDR "203.0.113.0/33"`},
		{name: "host bits set are refused with the network named", arg: "203.0.113.7/24", wantErr: "the network is 203.0.113.0/24"},
		{name: "an empty consumer is refused", arg: "consumer:", wantErr: "consumer:"},
		{name: "a host name is refused", arg: "example.com", wantErr: `"example.com": not an IP address`},
		{name: "nothing is refused", arg: "", wantErr: "not an IP address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTarget(tt.arg)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.True(t, errors.Is(err, record.ErrSubject))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			_, _, err = record.ParseSubject(got)
			assert.NoError(t, err, "a canonical subject is a valid key")
		})
	}
}
