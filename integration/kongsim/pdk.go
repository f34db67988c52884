package kongsim

import (
	"fmt"
	"net"
	"net/http"
	"strings"

	pb "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// This file is the PDK behind the bridge: one function per dotted method
// name of §4, with Kong's phase rules (§3.4) and its answers.

type pdkFunc func(b *bridgeCall, args []byte) (proto.Message, error)

func str1(v string) proto.Message { return &pb.String{V: v} }
func int1(v int) proto.Message    { return &pb.Int{V: int32(v)} }

// pdkMethods are the dotted names of §4 and how Kong answers each.
var pdkMethods map[string]pdkFunc

func init() {
	pdkMethods = map[string]pdkFunc{
		"kong.client.get_ip": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			if err := b.live(phAnyButInit); err != nil {
				return nil, err
			}
			return str1(b.rs.clientIP), nil
		},
		"kong.client.get_forwarded_ip": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			if err := b.live(phAnyButInit); err != nil {
				return nil, err
			}
			return str1(b.rs.clientIP), nil
		},
		"kong.client.get_port": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			if err := b.live(phAnyButInit); err != nil {
				return nil, err
			}
			return int1(b.rs.clientPort), nil
		},
		"kong.client.get_forwarded_port": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			if err := b.live(phAnyButInit); err != nil {
				return nil, err
			}
			return int1(b.rs.clientPort), nil
		},
		"kong.client.get_credential": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			if err := b.need(phAccessLater); err != nil {
				return nil, err
			}
			c := b.rs.credential
			if c == nil {
				return nil, nil
			}
			// Kong's credential table has consumer = {id}, not consumer_id,
			// so consumer_id encodes as nothing (§4).
			return &pb.AuthenticatedCredential{Id: c.id}, nil
		},
		"kong.client.get_consumer": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			if err := b.need(phAccessLater); err != nil {
				return nil, err
			}
			if b.rs.consumer == nil {
				return nil, nil
			}
			return consumerPB(b.rs.consumer), nil
		},
		"kong.client.load_consumer": func(b *bridgeCall, args []byte) (proto.Message, error) {
			if err := b.need(phAccessLater); err != nil {
				return nil, err
			}
			spec, err := decode[pb.ConsumerSpec](args)
			if err != nil {
				return nil, err
			}
			var c *consumer
			for _, x := range b.rs.cfg.decl.consumers {
				if x.id == spec.Id || (spec.ByUsername && x.username == spec.Id) {
					c = x
					break
				}
			}
			if c == nil {
				return nil, nil
			}
			return consumerPB(c), nil
		},
		"kong.client.authenticate": func(b *bridgeCall, args []byte) (proto.Message, error) {
			if err := b.need(phAccessOnly); err != nil {
				return nil, err
			}
			a, err := decode[pb.AuthenticateArgs](args)
			if err != nil {
				return nil, err
			}
			if a.Consumer == nil && a.Credential == nil {
				return nil, &errRaised{"either credential or consumer must be provided"}
			}
			if a.Consumer != nil {
				b.rs.consumer = &consumer{id: a.Consumer.Id, username: a.Consumer.Username, customID: a.Consumer.CustomId, tags: a.Consumer.Tags, createdAt: a.Consumer.CreatedAt}
			} else {
				b.rs.consumer = nil
			}
			if a.Credential != nil {
				b.rs.credential = &credential{id: a.Credential.Id}
			} else {
				b.rs.credential = nil
			}
			return nil, nil
		},
		"kong.client.get_protocol": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			if err := b.live(phAccessLater); err != nil {
				return nil, err
			}
			return str1(b.rs.scheme()), nil
		},
		"kong.ctx.shared.set": func(b *bridgeCall, args []byte) (proto.Message, error) {
			kv, err := decode[pb.KV](args)
			if err != nil {
				return nil, err
			}
			b.rs.mu.Lock()
			if v := luaValue(kv.V); v == nil {
				delete(b.rs.shared, kv.K)
			} else {
				b.rs.shared[kv.K] = v
			}
			b.rs.mu.Unlock()
			return nil, nil
		},
		"kong.ctx.shared.get": func(b *bridgeCall, args []byte) (proto.Message, error) {
			s, err := decode[pb.String](args)
			if err != nil {
				return nil, err
			}
			b.rs.mu.Lock()
			v := b.rs.shared[s.V]
			b.rs.mu.Unlock()
			return toValue(v), nil
		},
		"kong.ip.is_trusted": func(b *bridgeCall, args []byte) (proto.Message, error) {
			s, err := decode[pb.String](args)
			if err != nil {
				return nil, err
			}
			// trusted_ips is empty by default: nothing is trusted.
			_ = s
			return &pb.Bool{V: false}, nil
		},
		"kong.log.set_serialize_value": func(b *bridgeCall, args []byte) (proto.Message, error) {
			kv, err := decode[pb.KV](args)
			if err != nil {
				return nil, err
			}
			if kv.K == "" {
				return nil, &errRaised{"key must be a string"}
			}
			b.rs.mu.Lock()
			defer b.rs.mu.Unlock()
			dst := b.rs.serializeV
			if b.snap != nil {
				dst = b.snap.serializeV // the timer's ctx copy: invisible elsewhere
			}
			b.rs.setSerializeValue(dst, kv.K, luaValue(kv.V))
			return nil, nil
		},
		"kong.log.serialize": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			if err := b.need(phLogOnly); err != nil {
				return nil, err
			}
			return str1(string(b.snap.serialized)), nil
		},
		"kong.nginx.get_var": func(b *bridgeCall, args []byte) (proto.Message, error) {
			s, err := decode[pb.String](args)
			if err != nil {
				return nil, err
			}
			if b.snap != nil {
				return nil, &errRaised{errTimerNoLive}
			}
			return str1(b.rs.ngxVar(s.V)), nil
		},
		"kong.nginx.get_tls1_version_str": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			if b.snap != nil {
				return nil, &errRaised{errTimerNoLive}
			}
			return nil, nil // plain HTTP: no TLS version
		},
		"kong.nginx.set_ctx": func(b *bridgeCall, args []byte) (proto.Message, error) {
			kv, err := decode[pb.KV](args)
			if err != nil {
				return nil, err
			}
			b.rs.mu.Lock()
			defer b.rs.mu.Unlock()
			dst := b.rs.ngxCtx
			if b.snap != nil {
				dst = b.snap.ngxCtx
			}
			dst[kv.K] = luaValue(kv.V)
			return nil, nil
		},
		"kong.nginx.get_ctx": func(b *bridgeCall, args []byte) (proto.Message, error) {
			s, err := decode[pb.String](args)
			if err != nil {
				return nil, err
			}
			b.rs.mu.Lock()
			defer b.rs.mu.Unlock()
			src := b.rs.ngxCtxView()
			if b.snap != nil {
				src = b.snap.ngxCtx
			}
			return toValue(src[s.V]), nil
		},
		"kong.nginx.req_start_time": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			return &pb.Number{V: float64(b.rs.start.UnixNano()) / 1e9}, nil
		},
		"kong.nginx.get_subsystem": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			return str1("http"), nil
		},
		"kong.node.get_id": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			return str1(b.rs.g.nodeID), nil
		},
		"kong.node.get_memory_stats": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			return &pb.MemoryStats{}, nil
		},
		"kong.request.get_scheme":           liveStr(func(rs *reqState) string { return rs.scheme() }),
		"kong.request.get_host":             liveStr(func(rs *reqState) string { return rs.host }),
		"kong.request.get_port":             liveInt(func(rs *reqState) int { return rs.port }),
		"kong.request.get_forwarded_scheme": liveStr(func(rs *reqState) string { return rs.scheme() }),
		"kong.request.get_forwarded_host":   liveStr(func(rs *reqState) string { return rs.host }),
		"kong.request.get_forwarded_port":   liveInt(func(rs *reqState) int { return rs.port }),
		"kong.request.get_http_version": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			if err := b.live(phRequest); err != nil {
				return nil, err
			}
			return &pb.Number{V: float64(b.rs.r.ProtoMajor) + float64(b.rs.r.ProtoMinor)/10}, nil
		},
		"kong.request.get_method": liveStr(func(rs *reqState) string { return rs.r.Method }),
		"kong.request.get_path":   liveStr(func(rs *reqState) string { return rs.r.URL.EscapedPath() }),
		"kong.request.get_path_with_query": liveStr(func(rs *reqState) string {
			if rs.r.URL.RawQuery == "" {
				return rs.r.URL.EscapedPath()
			}
			return rs.r.URL.EscapedPath() + "?" + rs.r.URL.RawQuery
		}),
		"kong.request.get_raw_query": liveStr(func(rs *reqState) string { return rs.r.URL.RawQuery }),
		"kong.request.get_query_arg": func(b *bridgeCall, args []byte) (proto.Message, error) {
			if err := b.live(phRequest); err != nil {
				return nil, err
			}
			s, err := decode[pb.String](args)
			if err != nil {
				return nil, err
			}
			switch v := queryTable(b.rs.r.URL.RawQuery)[s.V].(type) {
			case string:
				return str1(v), nil
			case []any:
				if x, ok := v[0].(string); ok {
					return str1(x), nil
				}
			}
			return nil, nil
		},
		"kong.request.get_query": func(b *bridgeCall, args []byte) (proto.Message, error) {
			if err := b.live(phRequest); err != nil {
				return nil, err
			}
			n, err := decode[pb.Int](args)
			if err != nil {
				return nil, err
			}
			if n.V < 1 {
				return nil, &errRaised{"max_args must be >= 1"}
			}
			return toStruct(queryTable(b.rs.r.URL.RawQuery)), nil
		},
		"kong.request.get_header": func(b *bridgeCall, args []byte) (proto.Message, error) {
			if err := b.need(phRequest); err != nil {
				return nil, err
			}
			s, err := decode[pb.String](args)
			if err != nil {
				return nil, err
			}
			h := b.rs.upHeader
			if b.snap != nil {
				h = b.snap.reqHeader
			}
			vs := h.Values(strings.ReplaceAll(s.V, "_", "-"))
			if len(vs) == 0 {
				return nil, nil
			}
			return str1(vs[0]), nil
		},
		"kong.request.get_headers": func(b *bridgeCall, args []byte) (proto.Message, error) {
			if err := b.need(phRequest); err != nil {
				return nil, err
			}
			if b.snap != nil { // the snapshot ignores max
				return toStruct(headerTable(b.snap.reqHeader)), nil
			}
			n, err := decode[pb.Int](args)
			if err != nil {
				return nil, err
			}
			if n.V < 1 {
				return nil, &errRaised{"max_headers must be >= 1"}
			}
			return toStruct(headerTable(b.rs.upHeader)), nil
		},
		"kong.request.get_raw_body": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			if err := b.live(phRequestBody); err != nil {
				return nil, err
			}
			return &pb.RawBodyResult{Kind: &pb.RawBodyResult_Content{Content: b.rs.body()}}, nil
		},
		"kong.request.get_uri_captures": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			out := &pb.UriCapturesResult{Named: map[string][]byte{}}
			if c := b.rs.captures; c != nil {
				for _, u := range c.unnamed {
					out.Unnamed = append(out.Unnamed, []byte(u))
				}
				for k, v := range c.named {
					out.Named[k] = []byte(v)
				}
			}
			return out, nil
		},
		"kong.response.get_status": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			if err := b.need(phRespGet); err != nil {
				return nil, err
			}
			if b.snap != nil {
				return int1(b.snap.status), nil
			}
			return int1(b.rs.currentStatus()), nil
		},
		"kong.response.get_header": func(b *bridgeCall, args []byte) (proto.Message, error) {
			if err := b.need(phRespGet); err != nil {
				return nil, err
			}
			s, err := decode[pb.String](args)
			if err != nil {
				return nil, err
			}
			h := b.rs.currentRespHeader()
			if b.snap != nil {
				h = b.snap.respHeader
			}
			if v := h.Get(s.V); v != "" {
				return str1(v), nil
			}
			return nil, nil
		},
		"kong.response.get_headers": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			if err := b.need(phRespGet); err != nil {
				return nil, err
			}
			h := b.rs.currentRespHeader()
			if b.snap != nil {
				h = b.snap.respHeader
			}
			return toStruct(headerTable(h)), nil
		},
		"kong.response.get_source": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			if err := b.need(phRespGet); err != nil {
				return nil, err
			}
			if b.snap != nil {
				return str1(b.snap.source), nil
			}
			return str1(b.rs.source()), nil
		},
		"kong.response.set_status": func(b *bridgeCall, args []byte) (proto.Message, error) {
			if err := b.need(phRespSet); err != nil {
				return nil, err
			}
			n, err := decode[pb.Int](args)
			if err != nil {
				return nil, err
			}
			if n.V < 100 || n.V > 599 {
				return nil, &errRaised{"code must be a number between 100 and 599"}
			}
			b.rs.respStatus = int(n.V)
			return nil, nil
		},
		"kong.response.set_header": func(b *bridgeCall, args []byte) (proto.Message, error) {
			return b.headerKV(phRespSet, args, b.rs.respHeader, true)
		},
		"kong.response.add_header": func(b *bridgeCall, args []byte) (proto.Message, error) {
			return b.headerKV(phRespSet, args, b.rs.respHeader, false)
		},
		"kong.response.clear_header": func(b *bridgeCall, args []byte) (proto.Message, error) {
			return b.headerName(phRespSet, args, func(k string) {
				b.rs.respHeader.Del(k)
				if b.rs.upResp != nil {
					b.rs.upResp.header.Del(k)
				}
			})
		},
		"kong.response.set_headers": func(b *bridgeCall, args []byte) (proto.Message, error) {
			return b.headerStruct(phRespSet, args, b.rs.respHeader)
		},
		"kong.router.get_route": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			if err := b.need(phAccessLater); err != nil {
				return nil, err
			}
			if b.rs.route == nil {
				return nil, nil
			}
			return routePB(b.rs.route), nil
		},
		"kong.router.get_service": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			if err := b.need(phAccessLater); err != nil {
				return nil, err
			}
			if b.rs.svc == nil {
				return nil, nil
			}
			return servicePB(b.rs.svc), nil
		},
		"kong.service.set_upstream": func(b *bridgeCall, args []byte) (proto.Message, error) {
			if err := b.live(phAccessOnly); err != nil {
				return nil, err
			}
			s, err := decode[pb.String](args)
			if err != nil {
				return nil, err
			}
			// No upstream entities are modelled: set_upstream fails as
			// Kong's does for an unknown upstream name.
			_ = s
			if !b.rs.g.version.atLeast(7) {
				return nil, &errRaised{"could not find an Upstream named '" + s.V + "'"}
			}
			return &pb.Bool{V: false}, nil
		},
		"kong.service.set_target": func(b *bridgeCall, args []byte) (proto.Message, error) {
			if err := b.live(phTarget); err != nil {
				return nil, err
			}
			t, err := decode[pb.Target](args)
			if err != nil {
				return nil, err
			}
			if t.Port < 0 || t.Port > 65535 {
				return nil, &errRaised{"port must be an integer between 0 and 65535: given " + fmt.Sprint(t.Port)}
			}
			b.rs.upTarget = net.JoinHostPort(t.Host, fmt.Sprint(t.Port))
			return nil, nil
		},
		"kong.service.request.set_scheme": b2s(func(rs *reqState, v string) error {
			if v != "http" && v != "https" {
				return &errRaised{"invalid scheme: " + v}
			}
			rs.upScheme = v
			return nil
		}),
		"kong.service.request.set_path": b2s(func(rs *reqState, v string) error {
			if !strings.HasPrefix(v, "/") {
				return &errRaised{"path must start with /"}
			}
			rs.upPath = v
			return nil
		}),
		"kong.service.request.set_raw_query": b2s(func(rs *reqState, v string) error { rs.upRawQuery = v; return nil }),
		"kong.service.request.set_method": b2s(func(rs *reqState, v string) error {
			switch v {
			case "GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "MKCOL", "COPY", "MOVE", "PROPFIND",
				"PROPPATCH", "LOCK", "UNLOCK", "PATCH", "TRACE":
				rs.upMethod = v
				return nil
			}
			return &errRaised{"invalid method: " + v}
		}),
		"kong.service.request.set_query": func(b *bridgeCall, args []byte) (proto.Message, error) {
			if err := b.live(phServiceReq); err != nil {
				return nil, err
			}
			st, err := decode[structpb.Struct](args)
			if err != nil {
				return nil, err
			}
			b.rs.upRawQuery = encodeQuery(st.AsMap())
			return nil, nil
		},
		"kong.service.request.set_header": func(b *bridgeCall, args []byte) (proto.Message, error) {
			return b.headerKV(phServiceReq, args, b.rs.upHeader, true)
		},
		"kong.service.request.add_header": func(b *bridgeCall, args []byte) (proto.Message, error) {
			return b.headerKV(phServiceReq, args, b.rs.upHeader, false)
		},
		"kong.service.request.clear_header": func(b *bridgeCall, args []byte) (proto.Message, error) {
			return b.headerName(phServiceReq, args, func(k string) { b.rs.upHeader.Del(k) })
		},
		"kong.service.request.set_headers": func(b *bridgeCall, args []byte) (proto.Message, error) {
			return b.headerStruct(phServiceReq, args, b.rs.upHeader)
		},
		"kong.service.request.set_raw_body": func(b *bridgeCall, args []byte) (proto.Message, error) {
			if err := b.live(phServiceReq); err != nil {
				return nil, err
			}
			v, err := decode[pb.ByteString](args)
			if err != nil {
				return nil, err
			}
			b.rs.upBody, b.rs.upBodySet = v.V, true
			return nil, nil
		},
		"kong.service.response.get_status": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			if err := b.live(phServiceResp); err != nil {
				return nil, err
			}
			if b.rs.upResp == nil {
				return nil, nil
			}
			return int1(b.rs.upResp.status), nil
		},
		"kong.service.response.get_header": func(b *bridgeCall, args []byte) (proto.Message, error) {
			if err := b.live(phServiceResp); err != nil {
				return nil, err
			}
			s, err := decode[pb.String](args)
			if err != nil {
				return nil, err
			}
			if b.rs.upResp == nil || b.rs.upResp.header.Get(s.V) == "" {
				return nil, nil
			}
			return str1(b.rs.upResp.header.Get(s.V)), nil
		},
		"kong.service.response.get_headers": func(b *bridgeCall, args []byte) (proto.Message, error) {
			if err := b.live(phServiceResp); err != nil {
				return nil, err
			}
			if b.rs.upResp == nil {
				return toStruct(map[string]any{}), nil
			}
			return toStruct(headerTable(b.rs.upResp.header)), nil
		},
		"kong.service.response.get_raw_body": func(b *bridgeCall, _ []byte) (proto.Message, error) {
			if err := b.live(phServiceResp); err != nil {
				return nil, err
			}
			if b.rs.upResp == nil {
				return nil, nil
			}
			return &pb.ByteString{V: b.rs.upResp.body}, nil
		},
	}
	for _, level := range []string{"alert", "crit", "err", "warn", "notice", "info", "debug"} {
		pdkMethods["kong.log."+level] = logFunc(level)
	}
}

func logFunc(level string) pdkFunc {
	return func(b *bridgeCall, args []byte) (proto.Message, error) {
		lv, err := decode[structpb.ListValue](args)
		if err != nil {
			return nil, err
		}
		var parts []string
		for _, v := range lv.Values {
			parts = append(parts, luaToString(luaValue(v)))
		}
		b.rs.g.logf("[%s] [kong] %s [%s] %s", level, b.phase, b.plugin, strings.Join(parts, ""))
		return nil, nil
	}
}

func liveStr(f func(*reqState) string) pdkFunc {
	return func(b *bridgeCall, _ []byte) (proto.Message, error) {
		if err := b.live(phRequest); err != nil {
			return nil, err
		}
		return str1(f(b.rs)), nil
	}
}

func liveInt(f func(*reqState) int) pdkFunc {
	return func(b *bridgeCall, _ []byte) (proto.Message, error) {
		if err := b.live(phRequest); err != nil {
			return nil, err
		}
		return int1(f(b.rs)), nil
	}
}

func b2s(f func(*reqState, string) error) pdkFunc {
	return func(b *bridgeCall, args []byte) (proto.Message, error) {
		if err := b.live(phServiceReq); err != nil {
			return nil, err
		}
		s, err := decode[pb.String](args)
		if err != nil {
			return nil, err
		}
		return nil, f(b.rs, s.V)
	}
}

func (b *bridgeCall) headerKV(phases []string, args []byte, dst http.Header, replace bool) (proto.Message, error) {
	if err := b.live(phases); err != nil {
		return nil, err
	}
	kv, err := decode[pb.KV](args)
	if err != nil {
		return nil, err
	}
	if kv.K == "" {
		return nil, &errRaised{"invalid header name \"\": got string, expected non-empty string"}
	}
	var vals []string
	switch x := luaValue(kv.V).(type) {
	case string:
		vals = []string{x}
	case float64:
		vals = []string{num(x)}
	case bool:
		vals = []string{"true"}
	case []any:
		for _, e := range x {
			vals = append(vals, fmt.Sprint(e))
		}
	default:
		return nil, &errRaised{fmt.Sprintf("invalid header value for %q: got %T, expected array of string, string, number or boolean", kv.K, x)}
	}
	if replace {
		dst.Del(kv.K)
	}
	for _, v := range vals {
		dst.Add(kv.K, v)
	}
	return nil, nil
}

func (b *bridgeCall) headerName(phases []string, args []byte, del func(k string)) (proto.Message, error) {
	if err := b.live(phases); err != nil {
		return nil, err
	}
	s, err := decode[pb.String](args)
	if err != nil {
		return nil, err
	}
	del(s.V)
	return nil, nil
}

func (b *bridgeCall) headerStruct(phases []string, args []byte, dst http.Header) (proto.Message, error) {
	if err := b.live(phases); err != nil {
		return nil, err
	}
	st, err := decode[structpb.Struct](args)
	if err != nil {
		return nil, err
	}
	for k, v := range st.AsMap() {
		dst.Del(k)
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				dst.Add(k, fmt.Sprint(e))
			}
		default:
			dst.Set(k, fmt.Sprint(x))
		}
	}
	return nil, nil
}
