package pluginserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
)

type instance struct {
	id       int32
	started  time.Time
	config   any
	handlers map[string]handler
	lastUsed atomic.Int64 // unix seconds of the last event
}

// Kong closes an instance when it replaces it, but a Kong that restarted
// without stopping this process never closes the old ones. Past
// maxInstances, instances idle for idleEviction are dropped when a new one
// starts; if Kong still uses one, its next event restarts it through the
// "closed" retry path, which costs one extra round trip, not an error.
const (
	maxInstances = 1024
	idleEviction = time.Hour
)

func (s *server) lookup(id int32) *instance {
	s.instMu.RLock()
	defer s.instMu.RUnlock()
	return s.instances[id]
}

// startInstance decodes Kong's config JSON into a fresh config value. The
// schema's defaults fill what Kong left out (Kong normally sends them
// already), and an empty object where a list belongs is read as an empty
// list. The id is Kong's __seq__ when it fits, as with go-pdk, so an
// instance restarted for the same config keeps its id.
func (s *server) startInstance(cmd *kpp.CmdStartInstance) (*kpp.InstanceStatus, error) {
	dec := json.NewDecoder(bytes.NewReader(cmd.GetConfig()))
	dec.UseNumber()
	var generic map[string]any
	if err := dec.Decode(&generic); err != nil {
		return nil, fmt.Errorf("plugin %s: decoding config JSON: %w", s.plugin.Name, err)
	}
	if generic == nil {
		generic = map[string]any{}
	}
	var seq int64
	if n, ok := generic["__seq__"].(json.Number); ok {
		seq, _ = n.Int64()
	}
	s.plugin.schema.Complete(generic)
	completed, err := json.Marshal(generic)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: re-encoding config: %w", s.plugin.Name, err)
	}
	cfg := s.plugin.New()
	if err := json.Unmarshal(completed, cfg); err != nil {
		return nil, fmt.Errorf("plugin %s: decoding config: %w", s.plugin.Name, err)
	}
	if p, ok := cfg.(interface{ Prepare() error }); ok {
		if err := p.Prepare(); err != nil {
			return nil, fmt.Errorf("plugin %s: preparing config: %w", s.plugin.Name, err)
		}
	}
	inst := &instance{started: time.Now(), config: cfg, handlers: handlers(cfg)}
	inst.lastUsed.Store(inst.started.Unix())

	s.instMu.Lock()
	if len(s.instances) >= maxInstances {
		s.evictIdleLocked(inst.started)
	}
	if seq > 0 && seq <= math.MaxInt32 {
		inst.id = int32(seq)
	} else {
		// Kong's counter starts at 1 and grows by one per config; ids
		// from the upper half stay clear of it.
		for {
			inst.id = int32(1<<30 + rand.N(int64(1<<30-1)))
			if _, taken := s.instances[inst.id]; !taken {
				break
			}
		}
	}
	_, replaced := s.instances[inst.id]
	s.instances[inst.id] = inst
	s.instMu.Unlock()

	s.stats.InstancesStarted.Add(1)
	s.log.Debug("instance started", "instance", inst.id, "replaced", replaced)
	return &kpp.InstanceStatus{Name: cmd.GetName(), InstanceId: inst.id, StartedAt: inst.started.Unix()}, nil
}

func (s *server) evictIdleLocked(now time.Time) {
	cutoff := now.Add(-idleEviction).Unix()
	evicted := 0
	for id, inst := range s.instances {
		if inst.lastUsed.Load() < cutoff {
			delete(s.instances, id)
			evicted++
		}
	}
	if evicted > 0 {
		s.log.Info("dropped idle instances", "count", evicted, "idle_for", idleEviction)
	}
}

// closeInstance removes that instance and nothing else (go-pdk v0.11.2 also
// drops every instance older than 60 s). Closing an unknown id is answered
// too: Kong ignores the result, and a reply keeps the connection poolable.
func (s *server) closeInstance(id int32) *kpp.InstanceStatus {
	s.instMu.Lock()
	inst := s.instances[id]
	delete(s.instances, id)
	s.instMu.Unlock()
	st := &kpp.InstanceStatus{Name: "---", InstanceId: id}
	if inst != nil {
		st.StartedAt = inst.started.Unix()
		s.stats.InstancesClosed.Add(1)
	}
	s.log.Debug("instance closed", "instance", id, "known", inst != nil)
	return st
}
