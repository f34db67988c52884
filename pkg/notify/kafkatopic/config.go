package kafkatopic

// Config is the receiver's settings in the rule file. The brokers are the
// consumer's own.
type Config struct {
	Topic string `yaml:"topic"`
}
