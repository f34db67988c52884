package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatewatch.yaml")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	return path
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaultsFileMatchesDefault(t *testing.T) {
	p, err := Load(filepath.Join("testdata", "defaults.yaml"), nil)
	require.NoError(t, err)
	assert.Equal(t, Default(), p)
	require.NoError(t, Default().Validate(), "the defaults must be valid on their own")
}

func TestLoadWithoutFileUsesDefaultsAndEnvironment(t *testing.T) {
	p, err := Load("", envOf(map[string]string{
		EnvKafkaBrokers: " k1:9092, k2:9093 ,",
		EnvKafkaTopic:   "sec.events",
		EnvSpoolDir:     "/var/spool/gatewatch",
		EnvMetricsAddr:  ":9542",
	}))
	require.NoError(t, err)
	assert.Equal(t, []string{"k1:9092", "k2:9093"}, p.Kafka.Brokers)
	assert.Equal(t, "sec.events", p.Kafka.Topic)
	assert.Equal(t, "/var/spool/gatewatch", p.Spool.Dir)
	assert.Equal(t, ":9542", p.Metrics.Addr)
	assert.Equal(t, 5*time.Millisecond, p.Kafka.Linger, "untouched settings keep their defaults")
}

func TestLoadFileThenEnvironment(t *testing.T) {
	path := writeFile(t, `
kafka:
  brokers: [file:9092]
  topic: file.topic
  linger: 20ms
  sasl: {mechanism: SCRAM-SHA-512, username: gw, password: s3cret}
spool:
  fsync: always
log:
  level: debug
`)
	p, err := Load(path, envOf(map[string]string{EnvKafkaTopic: "env.topic"}))
	require.NoError(t, err)
	assert.Equal(t, []string{"file:9092"}, p.Kafka.Brokers)
	assert.Equal(t, "env.topic", p.Kafka.Topic, "the environment overrides the file")
	assert.Equal(t, 20*time.Millisecond, p.Kafka.Linger)
	assert.Equal(t, "always", p.Spool.Fsync)
	assert.Equal(t, "debug", p.Log.Level)
	secret, err := p.Kafka.SASL.Secret()
	require.NoError(t, err)
	assert.Equal(t, "s3cret", secret)
}

func TestLoadRefuses(t *testing.T) {
	cases := []struct {
		name, file string
		env        map[string]string
		want       []string
	}{
		{"an unknown key, with its dotted name and line", "kafka:\n  topic: x\n  lingerr: 5ms\n", nil,
			[]string{"line 3", `unknown key "kafka.lingerr"`, "linger"}},
		{"an unknown top-level key", "kafak:\n  topic: x\n", nil,
			[]string{"line 1", `unknown key "kafak"`}},
		{"a key given twice", "log:\n  level: info\n  level: debug\n", nil,
			[]string{"line 3", `"log.level" given twice`}},
		{"a string where an integer belongs", "kafka:\n  batch_size: many\n", nil,
			[]string{"line 2", "kafka.batch_size", "expected an integer", `"many"`}},
		{"a bad duration", "kafka:\n  linger: 5 ms\n", nil,
			[]string{"line 2", "kafka.linger", "duration"}},
		{"a plain number as a duration", "spool:\n  max_age: 3600\n", nil,
			[]string{"spool.max_age", "duration"}},
		{"a scalar where a list belongs", "kafka:\n  brokers: k1:9092\n", nil,
			[]string{"kafka.brokers", "expected a list"}},
		{"a list where a section belongs", "kafka:\n  - a\n", nil,
			[]string{"kafka", "expected a mapping"}},
		{"a bad boolean", "kafka:\n  tls: {enabled: maybe}\n", nil,
			[]string{"kafka.tls.enabled", "true or false"}},
		{"a compression kafka-go lacks, with the line of the key", "kafka:\n  compression: brotli\n", nil,
			[]string{"line 2", "kafka.compression", "none, gzip, snappy, lz4, zstd", `"brotli"`}},
		{"a broker without a port", "kafka:\n  brokers: [localhost]\n", nil,
			[]string{"kafka.brokers", "host:port"}},
		{"a zero batch size", "kafka:\n  batch_size: 0\n", nil,
			[]string{"kafka.batch_size", "greater than zero"}},
		{"an unknown fsync policy", "spool:\n  fsync: sometimes\n", nil,
			[]string{"spool.fsync", "always, interval, never"}},
		{"an unknown log level", "log:\n  level: loud\n", nil,
			[]string{"log.level"}},
		{"a bad topic name", "blocklist:\n  topic: 'a topic'\n", nil,
			[]string{"blocklist.topic", "not a Kafka topic name"}},
		{"a SASL mechanism without a password", "kafka:\n  sasl: {mechanism: PLAIN, username: u}\n", nil,
			[]string{"kafka.sasl.password", "must be set"}},
		{"a password without a mechanism", "kafka:\n  sasl: {password: hunter2}\n", nil,
			[]string{"kafka.sasl.mechanism"}},
		{"a cert without its key", "kafka:\n  tls: {enabled: true, cert_file: /c.pem}\n", nil,
			[]string{"kafka.tls.cert_file", "go together"}},
		{"a missing CA file when TLS is on", "kafka:\n  tls: {enabled: true, ca_file: /nonexistent/ca.pem}\n", nil,
			[]string{"kafka.tls.ca_file", "no such file"}},
		{"a bad broker in the environment, naming the variable", "", map[string]string{EnvKafkaBrokers: "k1:9092,k2"},
			[]string{EnvKafkaBrokers, `"k2"`}},
		{"a bad metrics address in the environment", "", map[string]string{EnvMetricsAddr: "9100"},
			[]string{EnvMetricsAddr}},
		{"a bad topic in the environment", "", map[string]string{EnvKafkaTopic: "a/b"},
			[]string{EnvKafkaTopic}},
		{"YAML that does not parse", "kafka: [\n", nil,
			[]string{"not valid YAML"}},
	}
	for _, tc := range cases {
		t.Run("it refuses "+tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeFile(t, tc.file)
			}
			_, err := Load(path, envOf(tc.env))
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestSecretsNeverLeak(t *testing.T) {
	const secret = "hunter2-very-secret"
	t.Run("a password of the wrong type is not quoted back", func(t *testing.T) {
		_, err := Load(writeFile(t, "kafka:\n  sasl:\n    password: ["+secret+"]\n"), nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "kafka.sasl.password")
		assert.NotContains(t, err.Error(), secret)
	})
	t.Run("validation errors about SASL do not quote the password", func(t *testing.T) {
		_, err := Load(writeFile(t, "kafka:\n  sasl: {mechanism: PLAIN, password: "+secret+"}\n"), nil)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), secret)
	})
	t.Run("String redacts the password and shows the rest", func(t *testing.T) {
		p := Default()
		p.Kafka.SASL = SASL{Mechanism: "PLAIN", Username: "gw", Password: secret}
		s := p.String()
		assert.NotContains(t, s, secret)
		assert.Contains(t, s, "kafka.sasl.password=[redacted]")
		assert.Contains(t, s, "kafka.sasl.username=gw")
		assert.Contains(t, s, "kafka.linger=5ms")
	})
}

func TestSecretFromFile(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pw, []byte("from-file\n"), 0o600))
	p, err := Load(writeFile(t, "kafka:\n  sasl: {mechanism: SCRAM-SHA-256, username: gw, password_file: "+pw+"}\n"), nil)
	require.NoError(t, err)
	secret, err := p.Kafka.SASL.Secret()
	require.NoError(t, err)
	assert.Equal(t, "from-file", secret)
}

func TestEmptyValuesKeepDefaults(t *testing.T) {
	p, err := Load(writeFile(t, "kafka:\n  topic:\nspool:\n"), nil)
	require.NoError(t, err)
	assert.Equal(t, "gatewatch.events", p.Kafka.Topic)
	p, err = Load(writeFile(t, ""), nil)
	require.NoError(t, err)
	assert.Equal(t, Default(), p)
}

func FuzzDecode(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "defaults.yaml"))
	require.NoError(f, err)
	f.Add(seed)
	f.Add([]byte("kafka: {brokers: [a:1], linger: 1s}\n"))
	f.Add([]byte("a: &x {b: *x}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := Default()
		_, err := decode(data, p)
		if err == nil {
			_ = p.String()
			return
		}
		// Every error says where: a line, or that the document is not YAML.
		msg := err.Error()
		if !strings.HasPrefix(msg, "line ") && !strings.HasPrefix(msg, "not valid YAML") && msg != "expected one YAML document" {
			t.Fatalf("error without a location: %q", msg)
		}
	})
}
