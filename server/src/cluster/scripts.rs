//! The Lua scripts that change the cluster's shared state. Each runs atomically in Redis, so a
//! room's cap, its members and the numbered events its followers hear cannot disagree: the
//! script that changes a room also publishes the change, numbered, on the room's channel.
//!
//! Each script runs with `K` (the keys' prefix, `fm:` by default) and `CH` (the channels'
//! prefix, `fm:<db>:`) set by `namespace.rs`. Keys (all under `K`): `room:R` hash peer ->
//! {name, node, sfu} (gone when empty, as Redis does);
//! `seq:R` the room's event counter (expires a day after the room empties); `invite:R` a private
//! meeting's key digests (expires 30 days after its last use);
//! `media:R` the node that carries room R's media (its *media home*; set while the room's media
//! goes through the server), `homes:N` the rooms whose media node N carries, `load` hash node ->
//! how many people's media it carries (what placement compares);
//! `peers:N` hash peer -> room for node N's peers; `nodes` the set of registered nodes;
//! `alive:N` node N's heartbeat (expires after the node timeout); `reaped:N` a node declared
//! dead (so that it steps down if it comes back); `policy` hash node -> its media policy.
//! Channels: `CH room:R` (a room's joins, leaves, chat and states) and `CH node:N` (signals and
//! media requests and replies for node N's peers). The scripts name their keys in
//! their bodies; all of them share the hash tag of `K`, so on a Redis Cluster they are in the
//! slot of the one key each script declares (`namespace.rs`).

/// The two changes every script makes, each numbered and published with the change: a member
/// added to a room, and a member taken out of one (told only if it was there).
macro_rules! members {
    () => {
        r#"
local function add_member(room, peer, name, node, sfu)
  local s = redis.call('INCR', K .. 'seq:' .. room)
  redis.call('PERSIST', K .. 'seq:' .. room)
  redis.call('HSET', K .. 'room:' .. room, peer, cjson.encode({name=name, node=node, sfu=sfu}))
  redis.call('HSET', K .. 'peers:' .. node, peer, room)
  local home = redis.call('GET', K .. 'media:' .. room)
  if home then redis.call('HINCRBY', K .. 'load', home, 1) end
  redis.call('PUBLISH', CH .. 'room:' .. room, cjson.encode({t='joined', room=room, peer=peer, name=name, node=node, sfu=sfu, seq=s}))
end
local function drop_member(room, peer)
  if redis.call('HDEL', K .. 'room:' .. room, peer) == 1 then
    local s = redis.call('INCR', K .. 'seq:' .. room)
    redis.call('PUBLISH', CH .. 'room:' .. room, cjson.encode({t='left', room=room, peer=peer, seq=s}))
    local home = redis.call('GET', K .. 'media:' .. room)
    if home then redis.call('HINCRBY', K .. 'load', home, -1) end
    if redis.call('EXISTS', K .. 'room:' .. room) == 0 then
      -- An empty room's counter goes after a day: long after any node could still follow it.
      redis.call('EXPIRE', K .. 'seq:' .. room, 86400)
      if home then
        redis.call('DEL', K .. 'media:' .. room)
        redis.call('SREM', K .. 'homes:' .. home, room)
      end
    end
  end
end
-- `node` carries the room's media, and the media of every member of it.
local function set_home(room, node)
  redis.call('SET', K .. 'media:' .. room, node)
  redis.call('SADD', K .. 'homes:' .. node, room)
  redis.call('HINCRBY', K .. 'load', node, redis.call('HLEN', K .. 'room:' .. room))
end
-- Gives the room's media a home: of the live nodes its members are on (they follow the room
-- already), the one carrying the fewest people's media. Told to the room, numbered.
local function place(room)
  local best, best_load, seen = nil, nil, {}
  for _, entry in ipairs(redis.call('HVALS', K .. 'room:' .. room)) do
    local n = cjson.decode(entry).node
    if not seen[n] and redis.call('EXISTS', K .. 'alive:' .. n) == 1 then
      seen[n] = true
      local l = tonumber(redis.call('HGET', K .. 'load', n) or '0')
      if not best or l < best_load or (l == best_load and n < best) then best, best_load = n, l end
    end
  end
  if not best then return false end
  set_home(room, best)
  local s = redis.call('INCR', K .. 'seq:' .. room)
  redis.call('PUBLISH', CH .. 'room:' .. room, cjson.encode({t='media', room=room, home=best, seq=s}))
  return best
end
-- The room's media moves to the server once it has more than `mesh_max` members (-1: never)
-- and every one of them can send it there.
local function maybe_place(room, mesh_max)
  if mesh_max < 0 or redis.call('EXISTS', K .. 'media:' .. room) == 1 then return end
  local entries = redis.call('HVALS', K .. 'room:' .. room)
  if #entries <= mesh_max then return end
  for _, entry in ipairs(entries) do
    if not cjson.decode(entry).sfu then return end
  end
  place(room)
end
-- The room's sequence now, its media home ('' for none) and its members, as HGETALL pairs.
local function snapshot(room, reply)
  table.insert(reply, redis.call('INCR', K .. 'seq:' .. room))
  table.insert(reply, redis.call('GET', K .. 'media:' .. room) or '')
  if redis.call('EXISTS', K .. 'room:' .. room) == 0 then redis.call('EXPIRE', K .. 'seq:' .. room, 86400) end
  for _, v in ipairs(redis.call('HGETALL', K .. 'room:' .. room)) do table.insert(reply, v) end
  return reply
end
"#
    };
}

/// ARGV: room, peer, name, node, cap, key (the SHA-256 of the join's key in hex, or empty),
/// access (`open` or `link`), how long a used invitation lasts from now, in seconds, whether the
/// page can send its media through the server (`1` or `0`), and the node's `mesh_max` (the most
/// people whose media goes browser to browser; 0: through the server from the first, -1: never).
/// Joins `peer` (leaving its previous room first), unless the room is a private meeting its key
/// does not open (`invite:R` holds the meeting's key digests), full, or through the server for a
/// page that cannot follow it there; then moves the room's media to the server if it has grown
/// past `mesh_max`. Returns `{"ok", invitation or "", seq, home or "", members...}`,
/// `{"needs-link"}`, `{"wrong-key"}`, `{"full"}`, `{"needs-sfu"}`, or `{"gone"}` when this node
/// has been declared dead.
/// Digests are compared as they are: their timing says nothing about a key.
pub const JOIN: &str = concat!(
    members!(),
    r#"
local room, peer, name, node, cap = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local key, access = ARGV[6], ARGV[7]
if redis.call('EXISTS', K .. 'reaped:' .. node) == 1 then return {'gone'} end
local invitation = redis.call('GET', K .. 'invite:' .. room)
if invitation then
  if key == '' then return {'needs-link'} end
  local i = cjson.decode(invitation)
  if key ~= i.guest and key ~= i.host then return {'wrong-key'} end
  redis.call('EXPIRE', K .. 'invite:' .. room, ARGV[8])
else
  invitation = ''
  if key ~= '' then return {'wrong-key'} end
  if access == 'link' then return {'needs-link'} end
end
local sfu, mesh_max = ARGV[9] == '1', tonumber(ARGV[10])
local here = redis.call('HEXISTS', K .. 'room:' .. room, peer) == 1
if not here and redis.call('HLEN', K .. 'room:' .. room) >= cap then return {'full'} end
if not here and not sfu and redis.call('EXISTS', K .. 'media:' .. room) == 1 then return {'needs-sfu'} end
local old = redis.call('HGET', K .. 'peers:' .. node, peer)
if old and old ~= room then drop_member(old, peer) end
if not here then
  add_member(room, peer, name, node, sfu)
  maybe_place(room, mesh_max)
end
return snapshot(room, {'ok', invitation})
"#
);

/// ARGV: room, peer, node. `peer` left `room`: removed and told, once.
pub const LEAVE: &str = concat!(
    members!(),
    r#"
local room, peer, node = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HGET', K .. 'peers:' .. node, peer) == room then
  redis.call('HDEL', K .. 'peers:' .. node, peer)
end
drop_member(room, peer)
return 1
"#
);

/// ARGV: node, force ("1" for a node stopping itself). Declares a silent node dead: every peer
/// of it leaves its room, told once cluster-wide, whichever node runs this first (the others
/// find it gone from `nodes`), and the rooms whose media it carried get a new home. Returns how
/// many peers it removed, or -1 when it did nothing.
pub const REAP: &str = concat!(
    members!(),
    r#"
local node, force = ARGV[1], ARGV[2]
if force ~= '1' and redis.call('EXISTS', K .. 'alive:' .. node) == 1 then return -1 end
if redis.call('SREM', K .. 'nodes', node) == 0 and force ~= '1' then return -1 end
local index = redis.call('HGETALL', K .. 'peers:' .. node)
for i = 1, #index, 2 do drop_member(index[i + 1], index[i]) end
redis.call('DEL', K .. 'peers:' .. node, K .. 'alive:' .. node)
redis.call('SET', K .. 'reaped:' .. node, '1', 'EX', 3600)
local homed = redis.call('SMEMBERS', K .. 'homes:' .. node)
redis.call('DEL', K .. 'homes:' .. node)
redis.call('HDEL', K .. 'load', node)
redis.call('HDEL', K .. 'policy', node)
for _, room in ipairs(homed) do
  if redis.call('EXISTS', K .. 'room:' .. room) == 1 then
    redis.call('DEL', K .. 'media:' .. room)
    place(room)
  end
end
return #index / 2
"#
);

/// ARGV: node, media policy (as its flags read). Before a node registers: refused, with the
/// first live node running another policy and that policy (`{node, policy}`), when one does,
/// since where a room's media goes is decided at each join by the joining node's policy;
/// otherwise the node's policy is noted and `{}` returned.
pub const POLICY: &str = r#"
local node, policy = ARGV[1], ARGV[2]
for _, n in ipairs(redis.call('SMEMBERS', K .. 'nodes')) do
  if n ~= node and redis.call('EXISTS', K .. 'alive:' .. n) == 1 then
    local theirs = redis.call('HGET', K .. 'policy', n)
    if theirs and theirs ~= policy then return {n, theirs} end
  end
end
redis.call('HSET', K .. 'policy', node, policy)
return {}
"#;

/// ARGV: node, timeout in ms. The heartbeat: returns 0 when this node has been declared dead
/// (it must step down), 2 when Redis had forgotten it (restarted without its data: it must
/// publish its rooms again), 1 otherwise.
pub const ALIVE: &str = r#"
local node, ms = ARGV[1], ARGV[2]
if redis.call('EXISTS', K .. 'reaped:' .. node) == 1 then return 0 end
local known = redis.call('SADD', K .. 'nodes', node) == 0
redis.call('SET', K .. 'alive:' .. node, '1', 'PX', ms)
if known then return 1 else return 2 end
"#;

/// ARGV: room, node, the peers of this node being admitted into `room` right now (comma-separated,
/// possibly empty), the room's media home as this node knows it (or empty), whether that home is
/// known dead (`1`: it was registered at neither of two looks), then peer, name, sfu (`1` or `0`)
/// triples: this node's members of `room` now. Puts back the ones Redis lost, takes out the ones
/// it still lists for this node that have gone (never a peer being admitted: its JOIN may have
/// run just before), puts back the media home if Redis lost it (a new one, placed as at a move,
/// when that home is dead), tells every node who this node has in the room (all numbered), then
/// returns `{seq, home, members...}` like JOIN: how a node catches up with a room after its
/// connection to Redis was cut.
pub const RESYNC: &str = concat!(
    members!(),
    r#"
local room, node, known_home, home_dead = ARGV[1], ARGV[2], ARGV[4], ARGV[5] == '1'
local joining = {}
for peer in string.gmatch(ARGV[3], '[^,]+') do joining[peer] = true end
local here = {}
for i = 6, #ARGV, 3 do
  local peer, name = ARGV[i], ARGV[i + 1]
  here[peer] = true
  if redis.call('HEXISTS', K .. 'room:' .. room, peer) == 0 then add_member(room, peer, name, node, ARGV[i + 2] == '1') end
end
local listed = redis.call('HGETALL', K .. 'room:' .. room)
for i = 1, #listed, 2 do
  local peer = listed[i]
  if cjson.decode(listed[i + 1]).node == node and not here[peer] then
    if joining[peer] then
      here[peer] = true
    else
      redis.call('HDEL', K .. 'peers:' .. node, peer)
      drop_member(room, peer)
    end
  end
end
-- Tell the others who is here now from this node: a member of it they still hold and Redis
-- had forgotten (so no leave was published for it) is gone.
local peers = {}
for peer in pairs(here) do table.insert(peers, peer) end
local s = redis.call('INCR', K .. 'seq:' .. room)
redis.call('PUBLISH', CH .. 'room:' .. room, cjson.encode({t='members', room=room, node=node, peers=peers, seq=s}))
-- A Redis restarted empty forgot where the room's media goes: the home the nodes remember is
-- put back (the first node to catch up does it; the others find it there), or, when that home
-- is dead, the room gets a new one, told to every node as a move is.
if known_home ~= '' and redis.call('EXISTS', K .. 'room:' .. room) == 1 then
  local home = redis.call('GET', K .. 'media:' .. room)
  if home_dead and home == known_home then
    redis.call('DEL', K .. 'media:' .. room)
    redis.call('SREM', K .. 'homes:' .. known_home, room)
    place(room)
  elseif not home and not home_dead then
    set_home(room, known_home)
  elseif not home then
    place(room)
  end
end
return snapshot(room, {})
"#
);

/// ARGV: room, invitation (`{"guest": digest, "host": digest}`), lifetime in seconds. Makes
/// `room` a private meeting unless the name is in use (people in it, or another meeting).
/// Returns 1 when made, 0 when the name is taken.
pub const INVITE: &str = r#"
local room, invitation, ttl = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', K .. 'room:' .. room) == 1 then return 0 end
if redis.call('SET', K .. 'invite:' .. room, invitation, 'NX', 'EX', ttl) then return 1 end
return 0
"#;

/// The policy as the JOIN script takes it: the most people whose media goes browser to
/// browser, 0 for through the server from the first, -1 for never.
pub(super) fn mesh_max(policy: crate::rooms::MediaPolicy) -> i64 {
    match policy {
        crate::rooms::MediaPolicy::Auto { mesh_max } => i64::try_from(mesh_max).unwrap_or(i64::MAX),
        crate::rooms::MediaPolicy::Sfu => 0,
        crate::rooms::MediaPolicy::Mesh => -1,
    }
}

/// A yes or no as the scripts take it.
pub(super) fn flag(yes: bool) -> String {
    if yes { "1" } else { "0" }.into()
}

/// The media policy as the flags that set it: what nodes compare (`POLICY`), and what an admin
/// is told to start a node with.
pub(super) fn policy_flags(policy: crate::rooms::MediaPolicy) -> String {
    match policy {
        crate::rooms::MediaPolicy::Auto { mesh_max } => {
            format!("--media auto --mesh-max {mesh_max}")
        }
        crate::rooms::MediaPolicy::Sfu => "--media sfu".into(),
        crate::rooms::MediaPolicy::Mesh => "--media mesh".into(),
    }
}
