package testkafka

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	kplain "github.com/twmb/franz-go/pkg/sasl/plain"
	kscram "github.com/twmb/franz-go/pkg/sasl/scram"
)

// IDHeader is the record header that carries the event id (the CloudEvents
// Kafka binding's ce_id), by which end-to-end tests reconcile.
const IDHeader = "ce_id"

// Security is how a reader reaches a broker that wants TLS or SASL. The
// zero value is plaintext without authentication.
type Security struct {
	// CAFile is a PEM CA bundle; set, the connection is TLS verified
	// against it (and the broker's address as the server name).
	CAFile string
	// SASLMechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 ("" = none).
	SASLMechanism      string
	Username, Password string
}

// IDs is what one reader saw of a topic, read from its first offset to its
// end.
type IDs struct {
	// Count is how often each event id arrived.
	Count map[string]int
	// Records is how many records were read; NoID how many of them had no
	// IDHeader.
	Records, NoID int
	// Partitions is how many records each partition held.
	Partitions map[int]int
}

func newIDs() IDs { return IDs{Count: map[string]int{}, Partitions: map[int]int{}} }

func (s *IDs) add(partition int, id []byte) {
	s.Records++
	s.Partitions[partition]++
	if id == nil {
		s.NoID++
		return
	}
	s.Count[string(id)]++
}

// Missing lists the ids of want that s never saw, at most max of them
// (all of them when max <= 0).
func (s IDs) Missing(want []string, max int) []string {
	var out []string
	for _, id := range want {
		if s.Count[id] == 0 {
			out = append(out, id)
			if max > 0 && len(out) == max {
				break
			}
		}
	}
	return out
}

// ReadIDsKafkaGo reads every partition of topic with segmentio/kafka-go,
// with a plain Conn per partition leader (no consumer group, no committed
// offsets), from the partition's first offset to the end it had when the
// read began, and counts the records by IDHeader.
func ReadIDsKafkaGo(ctx context.Context, brokers []string, topic string, sec Security) (IDs, error) {
	out := newIDs()
	d, err := sec.kafkaGoDialer()
	if err != nil {
		return out, err
	}
	var parts []kafka.Partition
	for _, b := range brokers {
		if parts, err = d.LookupPartitions(ctx, "tcp", b, topic); err == nil {
			break
		}
	}
	if err != nil {
		return out, fmt.Errorf("testkafka: kafka-go: partitions of %s: %w", topic, err)
	}
	for _, p := range parts {
		if err := readPartitionKafkaGo(ctx, d, brokers, topic, p.ID, &out); err != nil {
			return out, err
		}
	}
	return out, nil
}

func readPartitionKafkaGo(ctx context.Context, d *kafka.Dialer, brokers []string, topic string, partition int, out *IDs) error {
	var conn *kafka.Conn
	var err error
	for _, b := range brokers {
		if conn, err = d.DialLeader(ctx, "tcp", b, topic, partition); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("testkafka: kafka-go: leader of %s/%d: %w", topic, partition, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	first, last, err := conn.ReadOffsets()
	if err != nil {
		return fmt.Errorf("testkafka: kafka-go: offsets of %s/%d: %w", topic, partition, err)
	}
	next := first
	for next < last {
		if ctx.Err() != nil {
			return fmt.Errorf("testkafka: kafka-go: %s/%d read to offset %d of [%d, %d): %w", topic, partition, next, first, last, ctx.Err())
		}
		if _, err := conn.Seek(next, kafka.SeekAbsolute); err != nil {
			return fmt.Errorf("testkafka: kafka-go: seek %s/%d to %d: %w", topic, partition, next, err)
		}
		batch := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: 8 << 20, MaxWait: time.Second})
		for next < last {
			m, err := batch.ReadMessage()
			if err != nil {
				break
			}
			if m.Offset < next {
				continue
			}
			next = m.Offset + 1
			var id []byte
			for _, h := range m.Headers {
				if h.Key == IDHeader {
					id = h.Value
				}
			}
			out.add(partition, id)
		}
		if err := batch.Close(); err != nil {
			return fmt.Errorf("testkafka: kafka-go: fetch %s/%d at %d: %w", topic, partition, next, err)
		}
	}
	return nil
}

// tlsConfig is the client TLS of s (nil: plaintext).
func (s Security) tlsConfig() (*tls.Config, error) {
	if s.CAFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		return nil, fmt.Errorf("testkafka: CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("testkafka: CA %s: no certificate", s.CAFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// KgoOpts are the franz-go options that connect as s says.
func (s Security) KgoOpts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	tc, err := s.tlsConfig()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	switch strings.ToUpper(s.SASLMechanism) {
	case "":
	case "PLAIN":
		opts = append(opts, kgo.SASL(kplain.Auth{User: s.Username, Pass: s.Password}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(kscram.Auth{User: s.Username, Pass: s.Password}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(kscram.Auth{User: s.Username, Pass: s.Password}.AsSha512Mechanism()))
	default:
		return nil, fmt.Errorf("testkafka: SASL: unknown mechanism %q", s.SASLMechanism)
	}
	return opts, nil
}

func (s Security) kafkaGoDialer() (*kafka.Dialer, error) {
	d := &kafka.Dialer{Timeout: 10 * time.Second, ClientID: "testkafka-kafka-go"}
	tc, err := s.tlsConfig()
	if err != nil {
		return nil, err
	}
	d.TLS = tc
	var mech sasl.Mechanism
	switch strings.ToUpper(s.SASLMechanism) {
	case "":
	case "PLAIN":
		mech = plain.Mechanism{Username: s.Username, Password: s.Password}
	case "SCRAM-SHA-256":
		mech, err = scram.Mechanism(scram.SHA256, s.Username, s.Password)
	case "SCRAM-SHA-512":
		mech, err = scram.Mechanism(scram.SHA512, s.Username, s.Password)
	default:
		err = fmt.Errorf("unknown SASL mechanism %q", s.SASLMechanism)
	}
	if err != nil {
		return nil, fmt.Errorf("testkafka: SASL: %w", err)
	}
	d.SASLMechanism = mech
	return d, nil
}

// KcatPath is where scripts/setup.sh installs kcat (librdkafka's command
// line client).
const KcatPath = "/usr/bin/kcat"

// ReadIDsKcat reads topic with kcat (librdkafka), from the beginning of
// every partition until it reaches their end (-e), and counts the records
// by IDHeader. A missing kcat is an error, never a reason to skip.
func ReadIDsKcat(ctx context.Context, brokers []string, topic string, sec Security) (IDs, error) {
	out := newIDs()
	path := KcatPath
	if _, err := os.Stat(path); err != nil {
		if path, err = exec.LookPath("kcat"); err != nil {
			return out, fmt.Errorf("testkafka: kcat is not installed (scripts/setup.sh installs it): %w", err)
		}
	}
	// One line per record: partition, offset, then the headers as
	// kcat prints them (k=v pairs separated by commas).
	args := []string{"-C", "-b", strings.Join(brokers, ","), "-t", topic, "-o", "beginning", "-e", "-q",
		"-f", `%p %o %h\n`}
	if sec.CAFile != "" && sec.SASLMechanism != "" {
		args = append(args, "-X", "security.protocol=SASL_SSL")
	} else if sec.CAFile != "" {
		args = append(args, "-X", "security.protocol=SSL")
	} else if sec.SASLMechanism != "" {
		args = append(args, "-X", "security.protocol=SASL_PLAINTEXT")
	}
	if sec.CAFile != "" {
		args = append(args, "-X", "ssl.ca.location="+sec.CAFile)
	}
	if sec.SASLMechanism != "" {
		args = append(args, "-X", "sasl.mechanisms="+strings.ToUpper(sec.SASLMechanism),
			"-X", "sasl.username="+sec.Username, "-X", "sasl.password="+sec.Password)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return out, fmt.Errorf("testkafka: kcat: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return out, fmt.Errorf("testkafka: kcat: %w", err)
	}
	var perr error
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if perr == nil {
			perr = out.addKcatLine(sc.Bytes())
		}
	}
	if err := sc.Err(); err != nil && perr == nil {
		perr = err
	}
	if err := cmd.Wait(); err != nil {
		return out, fmt.Errorf("testkafka: kcat %s: %w: %s", strings.Join(redact(args, sec.Password), " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	if perr != nil {
		return out, fmt.Errorf("testkafka: kcat output: %w", perr)
	}
	return out, nil
}

// addKcatLine parses "partition offset headers".
func (s *IDs) addKcatLine(line []byte) error {
	f := bytes.SplitN(line, []byte(" "), 3)
	if len(f) < 2 {
		return fmt.Errorf("line %q: want partition, offset and headers", line)
	}
	part, err := strconv.Atoi(string(f[0]))
	if err != nil {
		return fmt.Errorf("line %q: partition: %w", line, err)
	}
	if _, err := strconv.ParseInt(string(f[1]), 10, 64); err != nil {
		return fmt.Errorf("line %q: offset: %w", line, err)
	}
	var id []byte
	if len(f) == 3 {
		for _, kv := range bytes.Split(f[2], []byte(",")) {
			if v, ok := bytes.CutPrefix(kv, []byte(IDHeader+"=")); ok {
				id = v
			}
		}
	}
	s.add(part, id)
	return nil
}

func redact(args []string, password string) []string {
	if password == "" {
		return args
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, password, "***")
	}
	return out
}

// LetLibrdkafkaAuthenticate makes c accept SASL from librdkafka (kcat).
// kfake serves SaslHandshake v1 only and advertises exactly that, but
// librdkafka turns SASL on only for a broker that advertises SaslHandshake
// v0 (its KIP-43 "SaslHandshake" feature), although it then speaks v1 and
// SaslAuthenticate, which kfake serves. So the ApiVersions requests of
// librdkafka are answered with kfake's own table, fetched once here over
// sec, widened to v0 for SaslHandshake; every other client still gets
// kfake's own answer.
func LetLibrdkafkaAuthenticate(ctx context.Context, c *kfake.Cluster, sec Security) error {
	opts, err := sec.KgoOpts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers(c.ListenAddrs()...))...)
	if err != nil {
		return fmt.Errorf("testkafka: client: %w", err)
	}
	defer cl.Close()
	base, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("testkafka: ApiVersions: %w", err)
	}
	if err := kerr.ErrorForCode(base.ErrorCode); err != nil {
		return fmt.Errorf("testkafka: ApiVersions: %w", err)
	}
	keys := make([]kmsg.ApiVersionsResponseApiKey, len(base.ApiKeys))
	copy(keys, base.ApiKeys)
	for i := range keys {
		if keys[i].ApiKey == int16(kmsg.SASLHandshake) {
			keys[i].MinVersion = 0
		}
	}
	c.ControlKey(int16(kmsg.ApiVersions), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.ApiVersionsRequest)
		if r.ClientSoftwareName != "librdkafka" || r.Version > base.Version {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.ApiVersionsResponse)
		resp.ApiKeys = keys
		return resp, nil, true
	})
	return nil
}
