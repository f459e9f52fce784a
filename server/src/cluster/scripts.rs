//! The Lua scripts that change the cluster's shared state. Each runs atomically in Redis, so a
//! room's cap, its members and the numbered events its followers hear cannot disagree: the
//! script that changes a room also publishes the change, numbered, on the room's channel.
//!
//! Keys (all under `fm:`): `room:R` hash peer -> {name, node}; `seq:R` the room's event counter;
//! `peers:N` hash peer -> room for node N's peers; `nodes` the set of registered nodes;
//! `alive:N` node N's heartbeat (expires after the node timeout); `reaped:N` a node declared
//! dead (so that it steps down if it comes back). Channels: `fm:room:R` (a room's joins, leaves,
//! chat and states) and `fm:node:N` (signals for node N's peers). The scripts name their keys in
//! their bodies: this is for a single Redis (or a primary with replicas), not Redis Cluster.

/// The two changes every script makes, each numbered and published with the change: a member
/// added to a room, and a member taken out of one (told only if it was there).
macro_rules! members {
    () => {
        r#"
local function add_member(room, peer, name, node)
  local s = redis.call('INCR', 'fm:seq:' .. room)
  redis.call('HSET', 'fm:room:' .. room, peer, cjson.encode({name=name, node=node}))
  redis.call('HSET', 'fm:peers:' .. node, peer, room)
  redis.call('PUBLISH', 'fm:room:' .. room, cjson.encode({t='joined', room=room, peer=peer, name=name, node=node, seq=s}))
end
local function drop_member(room, peer)
  if redis.call('HDEL', 'fm:room:' .. room, peer) == 1 then
    local s = redis.call('INCR', 'fm:seq:' .. room)
    redis.call('PUBLISH', 'fm:room:' .. room, cjson.encode({t='left', room=room, peer=peer, seq=s}))
  end
end
-- The room's sequence now and its members, as HGETALL pairs.
local function snapshot(room, reply)
  table.insert(reply, redis.call('INCR', 'fm:seq:' .. room))
  for _, v in ipairs(redis.call('HGETALL', 'fm:room:' .. room)) do table.insert(reply, v) end
  return reply
end
"#
    };
}

/// ARGV: room, peer, name, node, cap. Joins `peer` (leaving its previous room first), unless the
/// room is full. Returns `{"ok", seq, members...}`, `{"full"}`, or `{"gone"}` when this node has
/// been declared dead.
pub const JOIN: &str = concat!(
    members!(),
    r#"
local room, peer, name, node, cap = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
if redis.call('EXISTS', 'fm:reaped:' .. node) == 1 then return {'gone'} end
local here = redis.call('HEXISTS', 'fm:room:' .. room, peer) == 1
if not here and redis.call('HLEN', 'fm:room:' .. room) >= cap then return {'full'} end
local old = redis.call('HGET', 'fm:peers:' .. node, peer)
if old and old ~= room then drop_member(old, peer) end
if not here then add_member(room, peer, name, node) end
return snapshot(room, {'ok'})
"#
);

/// ARGV: room, peer, node. `peer` left `room`: removed and told, once.
pub const LEAVE: &str = concat!(
    members!(),
    r#"
local room, peer, node = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HGET', 'fm:peers:' .. node, peer) == room then
  redis.call('HDEL', 'fm:peers:' .. node, peer)
end
drop_member(room, peer)
return 1
"#
);

/// ARGV: node, force ("1" for a node stopping itself). Declares a silent node dead: every peer
/// of it leaves its room, told once cluster-wide, whichever node runs this first (the others
/// find it gone from `nodes`). Returns how many peers it removed, or -1 when it did nothing.
pub const REAP: &str = concat!(
    members!(),
    r#"
local node, force = ARGV[1], ARGV[2]
if force ~= '1' and redis.call('EXISTS', 'fm:alive:' .. node) == 1 then return -1 end
if redis.call('SREM', 'fm:nodes', node) == 0 and force ~= '1' then return -1 end
local index = redis.call('HGETALL', 'fm:peers:' .. node)
for i = 1, #index, 2 do drop_member(index[i + 1], index[i]) end
redis.call('DEL', 'fm:peers:' .. node, 'fm:alive:' .. node)
redis.call('SET', 'fm:reaped:' .. node, '1', 'EX', 3600)
return #index / 2
"#
);

/// ARGV: node, timeout in ms. The heartbeat: returns 0 when this node has been declared dead
/// (it must step down), 2 when Redis had forgotten it (restarted without its data: it must
/// publish its rooms again), 1 otherwise.
pub const ALIVE: &str = r#"
local node, ms = ARGV[1], ARGV[2]
if redis.call('EXISTS', 'fm:reaped:' .. node) == 1 then return 0 end
local known = redis.call('SADD', 'fm:nodes', node) == 0
redis.call('SET', 'fm:alive:' .. node, '1', 'PX', ms)
if known then return 1 else return 2 end
"#;

/// ARGV: room, node, then peer, name pairs: this node's members of `room` now. Puts back the
/// ones Redis lost, takes out the ones it still lists for this node that have gone, tells every
/// node who this node has in the room (all numbered), then returns `{seq, members...}` like
/// JOIN: how a node catches up with a room after its connection to Redis was cut.
pub const RESYNC: &str = concat!(
    members!(),
    r#"
local room, node = ARGV[1], ARGV[2]
local here = {}
for i = 3, #ARGV, 2 do
  local peer, name = ARGV[i], ARGV[i + 1]
  here[peer] = true
  if redis.call('HEXISTS', 'fm:room:' .. room, peer) == 0 then add_member(room, peer, name, node) end
end
local listed = redis.call('HGETALL', 'fm:room:' .. room)
for i = 1, #listed, 2 do
  local peer = listed[i]
  if cjson.decode(listed[i + 1]).node == node and not here[peer] then
    redis.call('HDEL', 'fm:peers:' .. node, peer)
    drop_member(room, peer)
  end
end
-- Tell the others who is here now from this node: a member of it they still hold and Redis
-- had forgotten (so no leave was published for it) is gone.
local peers = {}
for peer in pairs(here) do table.insert(peers, peer) end
local s = redis.call('INCR', 'fm:seq:' .. room)
redis.call('PUBLISH', 'fm:room:' .. room, cjson.encode({t='members', room=room, node=node, peers=peers, seq=s}))
return snapshot(room, {})
"#
);
