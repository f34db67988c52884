package kongsim

import (
	"fmt"
	"math"
	"strconv"

	pb "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/types/known/structpb"
)

// This file converts between protobuf messages and Lua-like values the way
// pb_rpc.lua's pb_unwrap/pb_wrap do (§2.8).

// luaValue is Kong's unwrap of a google.protobuf.Value (§2.8): `false`
// becomes nil and a Go nil arrives as the enum name "NULL_VALUE".
func luaValue(v *structpb.Value) any {
	if v == nil {
		return nil
	}
	switch k := v.Kind.(type) {
	case *structpb.Value_BoolValue:
		if k.BoolValue {
			return true
		}
		return nil
	case *structpb.Value_StringValue:
		return k.StringValue
	case *structpb.Value_NumberValue:
		return k.NumberValue
	case *structpb.Value_NullValue:
		return "NULL_VALUE"
	case *structpb.Value_StructValue:
		out := map[string]any{}
		for key, e := range k.StructValue.Fields {
			if x := luaValue(e); x != nil {
				out[key] = x
			}
		}
		return out
	case *structpb.Value_ListValue:
		out := []any{}
		for _, e := range k.ListValue.Values {
			out = append(out, luaValue(e))
		}
		return out
	}
	return nil
}

// toValue is Kong's wrap of a Lua value into a Value: nil → null_value.
func toValue(v any) *structpb.Value {
	switch x := v.(type) {
	case nil:
		return structpb.NewNullValue()
	case bool:
		return structpb.NewBoolValue(x)
	case string:
		return structpb.NewStringValue(x)
	case float64:
		return structpb.NewNumberValue(x)
	case int:
		return structpb.NewNumberValue(float64(x))
	case int64:
		return structpb.NewNumberValue(float64(x))
	case []any:
		l := &structpb.ListValue{}
		for _, e := range x {
			l.Values = append(l.Values, toValue(e))
		}
		return structpb.NewListValue(l)
	case []string:
		l := &structpb.ListValue{}
		for _, e := range x {
			l.Values = append(l.Values, structpb.NewStringValue(e))
		}
		return structpb.NewListValue(l)
	case map[string]any:
		return structpb.NewStructValue(toStruct(x))
	}
	return structpb.NewStringValue(fmt.Sprint(v))
}

func toStruct(m map[string]any) *structpb.Struct {
	s := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(m))}
	for k, v := range m {
		s.Fields[k] = toValue(v)
	}
	return s
}

func consumerPB(c *consumer) *pb.Consumer {
	return &pb.Consumer{Id: c.id, CreatedAt: c.createdAt, Username: c.username, CustomId: c.customID, Tags: c.tags}
}

func routePB(r *route) *pb.Route {
	out := &pb.Route{
		Id: r.id, CreatedAt: r.createdAt, UpdatedAt: r.createdAt, Name: r.name, Protocols: r.protocols,
		Methods: r.methods, Hosts: r.hosts, Paths: r.paths, HttpsRedirectStatusCode: 426,
		RegexPriority: int32(r.regexPriority), StripPath: r.stripPath, PreserveHost: r.preserveHost, Tags: r.tags,
	}
	// A route's headers are a map in Kong; the repeated field reads the
	// array part only, so nothing is encoded (§2.8).
	if r.service != nil {
		out.Service = &pb.ServiceKey{Id: r.service.id}
	}
	return out
}

func servicePB(s *service) *pb.Service {
	return &pb.Service{
		Id: s.id, CreatedAt: s.createdAt, UpdatedAt: s.createdAt, Name: s.name, Retries: int32(s.retries),
		Protocol: s.protocol, Host: s.host, Port: int32(s.port), Path: s.path,
		ConnectTimeout: int32(s.connectTimeout), WriteTimeout: int32(s.writeTimeout),
		ReadTimeout: int32(s.readTimeout), Tags: s.tags,
	}
}

// luaToString is Lua's tostring for the values a log call receives.
func luaToString(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', 14, 64)
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprintf("table: %p", &v)
}
