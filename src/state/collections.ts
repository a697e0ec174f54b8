// Registers the collection types' events and value codecs (lists, hashes, sets, sorted sets),
// and the function libraries' events.
// Imported by recovery (and so by the engine) so that every record's events decode and every
// RESTORE of a sorted set finds its codec, whoever opens the pool.
import './list-events.js'
import './hash-events.js'
import './set-events.js'
import './zset-events.js'
import './zset.js'
import './function-events.js'
