package publish

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gatewatch/gatewatch/internal/testkafka"
	"github.com/gatewatch/gatewatch/pkg/spool"
)

// testCA makes a CA and a server certificate for 127.0.0.1 signed by it;
// it writes the CA to caFile and returns the server's TLS config.
func testCA(t *testing.T) (caFile string, server *tls.Config) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gatewatch test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"kafka.test"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600))
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	return caFile, server
}

func TestTLSAndSCRAMSHA512(t *testing.T) {
	caFile, serverTLS := testCA(t)
	c := startCluster(t, kfake.TLS(serverTLS), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "gatewatch", "s3cret-pass"))
	// Every reader (franz-go, kafka-go, kcat) connects as the producer does:
	// TLS verified against the test's CA, SCRAM-SHA-512.
	sec := testkafka.Security{CAFile: caFile, SASLMechanism: "SCRAM-SHA-512", Username: "gatewatch", Password: "s3cret-pass"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, testkafka.LetLibrdkafkaAuthenticate(ctx, c, sec))

	t.Run("events arrive over TLS with a CA the test made and SCRAM-SHA-512", func(t *testing.T) {
		cfg := testConfig(c.ListenAddrs())
		cfg.TLS = TLSConfig{Enabled: true, CAFile: caFile}
		cfg.SASL = SASLConfig{Mechanism: "SCRAM-SHA-512", Username: "gatewatch", Password: "s3cret-pass"}
		p := newPublisher(t, cfg)
		for i := range 100 {
			require.True(t, p.Enqueue(event(i, 100)))
		}
		require.NoError(t, p.Close(context.Background()))
		assertEveryID(t, readAll(t, c.ListenAddrs(), 100, sec), eventIDs(0, 100))
	})

	t.Run("a wrong password fails clearly, spools the events, and the right one delivers them", func(t *testing.T) {
		dir := t.TempDir()
		var logs strings.Builder
		cfg := testConfig(c.ListenAddrs())
		cfg.TLS = TLSConfig{Enabled: true, CAFile: caFile}
		cfg.SASL = SASLConfig{Mechanism: "scram-sha-512", Username: "gatewatch", Password: "wrong-pass"}
		cfg.Spool = spool.Config{Dir: dir}
		cfg.CloseTimeout = time.Second
		cfg.Logger = newTextLogger(&logs)
		p, err := New(cfg)
		require.NoError(t, err)
		for i := 1000; i < 1050; i++ {
			require.True(t, p.Enqueue(event(i, 100)))
		}
		require.Eventually(t, func() bool { return p.Stats().Spooled >= 50 }, 10*time.Second, 10*time.Millisecond)
		s := p.Stats()
		assert.Contains(t, s.LastError, `SASL SCRAM-SHA-512 authentication as "gatewatch" failed`)
		assert.False(t, s.BrokerUp)
		require.NoError(t, p.Close(context.Background()), "nothing lost: spooled")
		assert.Contains(t, logs.String(), "wrong username or password")
		assert.NotContains(t, logs.String(), "wrong-pass", "the password is never logged")

		cfg.SASL.Password = "s3cret-pass"
		cfg.Logger = nil
		p2 := newPublisher(t, cfg)
		waitDrained(t, p2, 20*time.Second)
		require.NoError(t, p2.Close(context.Background()))
		assertEveryID(t, readAll(t, c.ListenAddrs(), 150, sec), eventIDs(1000, 1050))
	})

	t.Run("a server certificate from another CA is refused", func(t *testing.T) {
		otherCA, _ := testCA(t)
		cfg := testConfig(c.ListenAddrs())
		cfg.TLS = TLSConfig{Enabled: true, CAFile: otherCA}
		cfg.SASL = SASLConfig{Mechanism: "scram-sha-512", Username: "gatewatch", Password: "s3cret-pass"}
		cfg.CloseTimeout = 200 * time.Millisecond
		p, err := New(cfg)
		require.NoError(t, err)
		require.True(t, p.Enqueue(event(1, 10)))
		require.Eventually(t, func() bool { return p.Stats().LastError != "" }, 10*time.Second, 10*time.Millisecond)
		assert.Contains(t, p.Stats().LastError, "certificate")
		require.Error(t, p.Close(context.Background()), "without a spool the event is lost, and Close says so")
	})
}
