// Differential cases for expiry (see script.ts for the line syntax).
import type { Case } from './script.js'

export const expireCases: Case[] = [
  { name: 'EXPIRE and TTL', lines: [
    'EXPIRE nope 10', 'TTL nope', 'PTTL nope', 'SET k v', 'TTL k', 'PTTL k', 'EXPIRE k 100',
    'TTL k #ttl', 'PTTL k #pttl', 'EXPIRE k 200', 'TTL k #ttl', 'PEXPIRE k 300000',
    'TTL k #ttl', 'EXPIRE k 0', 'EXISTS k', 'SET k v', 'EXPIRE k -5', 'GET k', 'SET k v',
    'PEXPIRE k -1', 'EXISTS k',
  ] },
  { name: 'EXPIREAT and PEXPIREAT', lines: [
    'SET k v', 'EXPIREAT k 4102444800', 'EXPIRETIME k', 'PEXPIRETIME k', 'TTL k #ttl',
    'PEXPIREAT k 4102444800555', 'PEXPIRETIME k', 'EXPIRETIME k', 'EXPIREAT k 1', 'EXISTS k',
    'SET k v', 'PEXPIREAT k 0', 'EXISTS k', 'SET k v', 'EXPIREAT k -1', 'EXISTS k',
    'EXPIRETIME nope', 'PEXPIRETIME nope', 'SET p v', 'EXPIRETIME p', 'PEXPIRETIME p',
  ] },
  { name: 'EXPIRE argument errors', lines: [
    'SET k v', 'EXPIRE k abc', 'EXPIRE k 1.5', 'EXPIRE k ""', 'EXPIRE k 9223372036854775807',
    'EXPIRE k 9223372036854776', 'EXPIRE k -9223372036854776', 'EXPIRE k 9223372036854775',
    'TTL k #ttl', 'PEXPIRE k 9223372036854775807', 'PEXPIREAT k 9223372036854775807',
    'EXPIREAT k 9223372036854775807', 'EXPIRE k 99999999999999999999', 'EXPIRE k',
    'EXPIRE', 'PEXPIRE k', 'EXPIREAT k', 'TTL', 'TTL a b', 'PERSIST', 'EXPIRETIME',
    'EXPIRE nope abc', 'EXPIRE nope 9223372036854775807',
  ] },
  { name: 'EXPIRE NX XX GT LT', lines: [
    'SET k v', 'EXPIRE k 100 XX', 'TTL k', 'EXPIRE k 100 GT', 'TTL k', 'EXPIRE k 100 LT',
    'TTL k #ttl', 'EXPIRE k 200 NX', 'TTL k #ttl', 'EXPIRE k 200 XX', 'TTL k #ttl',
    'EXPIRE k 100 GT', 'EXPIRE k 300 GT', 'TTL k #ttl', 'EXPIRE k 400 LT', 'EXPIRE k 50 LT',
    'TTL k #ttl', 'EXPIRE k 50 nx', 'EXPIRE k 60 Xx gT', 'TTL k #ttl', 'EXPIRE k 1 XX LT',
    'TTL k #ttl', 'EXPIRE k -1 LT', 'EXISTS k', 'SET k v', 'EXPIRE k -1 GT', 'EXISTS k',
    'EXPIRE k -1 NX', 'EXISTS k', 'EXPIRE nope 10 NX',
  ] },
  { name: 'EXPIRE option errors', lines: [
    'SET k v', 'EXPIRE k 10 NX XX', 'EXPIRE k 10 NX GT', 'EXPIRE k 10 NX LT', 'EXPIRE k 10 GT LT',
    'EXPIRE k 10 XX GT LT', 'EXPIRE k 10 BOGUS', 'EXPIRE k 10 NX BOGUS', 'EXPIRE k 10 "N\\x00X"',
    'EXPIRE k abc BOGUS', 'EXPIRE k abc NX XX', 'EXPIRE nope 10 BOGUS', 'PEXPIRE k 10 GT LT',
    'EXPIREAT k 10 NX NX', 'TTL k', 'EXPIRE k 10 "caf\\xc3\\xa9"', 'EXPIRE k 10 "a\\rb\\nc"',
  ] },
  { name: 'PERSIST', lines: [
    'PERSIST nope', 'SET k v', 'PERSIST k', 'EXPIRE k 100', 'PERSIST k', 'TTL k', 'PERSIST k',
    'SET e v PX 1', '!sleep 15', 'PERSIST e', 'EXISTS e',
  ] },
  { name: 'lazy expiry on every kind of access', lines: [
    'SET a 1 PX 1', 'RPUSH l x', 'PEXPIRE l 1', 'SET b 2 PX 1', 'SET c 3 PX 1', 'SET d 4 PX 1',
    'SET e 5 PX 1', 'SET f 6 PX 1', '!sleep 20', 'GET a', 'LLEN l', 'EXISTS b', 'TTL c',
    'TYPE d', 'INCR e', 'APPEND f x', 'DBSIZE', 'KEYS * #set',
  ] },
  { name: 'expired keys and overwrites', lines: [
    'SET a 1 PX 1', 'SET b 2 PX 1', 'SET c 3 PX 1', 'SET d x PX 1', '!sleep 20', 'SETNX a v',
    'GET a', 'MSETNX b 1', 'GET b', 'RENAME c x', 'RENAMENX d y', 'COPY d z', 'DEL c d',
    'EXPIRE b 10 XX', 'TTL b #ttl',
  ] },
  { name: 'TTL rounding', lines: [
    'SET k v PX 1499', 'TTL k #ttl', 'SET k v PX 1501', 'TTL k #ttl', 'SET k v PX 400',
    'TTL k #ttl', 'SET k v PX 600', 'TTL k #ttl',
  ] },
  { name: 'expiry in RESP3', resp3: true, server: true, lines: [
    'TTL nope', 'SET k v', 'TTL k', 'EXPIRE k 100', 'TTL k #ttl', 'PERSIST k', 'EXPIRETIME k',
    'EXPIRE k 10 GT LT',
  ] },
]
