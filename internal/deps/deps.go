package deps

import (
	_ "github.com/Kong/go-pdk"
	_ "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	_ "github.com/Kong/go-pdk/test"
	_ "github.com/corazawaf/libinjection-go"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/segmentio/kafka-go"
	_ "github.com/segmentio/kafka-go/sasl/plain"
	_ "github.com/segmentio/kafka-go/sasl/scram"
	_ "github.com/stretchr/testify/require"
	_ "github.com/twmb/franz-go/pkg/kfake"
	_ "github.com/twmb/franz-go/pkg/kgo"
	_ "github.com/vmihailenco/msgpack/v5"
	_ "google.golang.org/protobuf/proto"
	_ "gopkg.in/yaml.v3"
)
