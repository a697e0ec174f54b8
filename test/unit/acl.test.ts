// The ACL model in process: the protected-mode decision over addresses (no network needed:
// Redis's islocalClient accepts exactly 127.0.0.1 and ::1), password digests and their
// constant-time comparison, rule staging (all or nothing), and the describe algorithm's
// invariant (its rules rebuild the user's bitmap).

import t from 'tap'
import { AclUser, aclCommandsOf, describeUser, hashPassword, stageRules } from '../../src/commands/acl-model.js'
import { isLocalAddress, protectedModeDenies } from '../../src/commands/acl.js'
import { loadCommandTable } from '../../src/commands/table.js'

const commands = aclCommandsOf(await loadCommandTable())

function user(...rules: string[]): AclUser {
  const u = stageRules(new AclUser('u', commands, false), rules, false)
  if (typeof u === 'string') throw new Error(u)
  return u
}

t.test('protected mode decides by the peer address as Redis does', async (t) => {
  const nopass = user('on', 'nopass')
  const withPass = user('on', '>x')
  for (const local of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
    t.equal(isLocalAddress(local), true, `${local} is local`)
    t.equal(protectedModeDenies('yes', nopass, local), false, `${local} served`)
  }
  for (const remote of ['127.0.0.2', '10.0.0.1', '::ffff:10.1.2.3', 'fe80::1', '', undefined]) {
    t.equal(isLocalAddress(remote), false, `${String(remote)} is remote`)
    t.equal(protectedModeDenies('yes', nopass, remote), true, `${String(remote)} refused`)
    t.equal(protectedModeDenies('no', nopass, remote), false, 'protected-mode no: served')
    t.equal(protectedModeDenies('yes', withPass, remote), false, 'a password: served')
  }
})

t.test('passwords are SHA-256 digests compared whole', async (t) => {
  t.equal(hashPassword(Buffer.from('pw')),
    '30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4')
  const u = user('on', '>pw', '>other')
  t.same(u.passwords.length, 2)
  t.ok(u.passwordMatches(Buffer.from('pw')))
  t.ok(u.passwordMatches(Buffer.from('other')))
  t.notOk(u.passwordMatches(Buffer.from('pW')))
  t.notOk(u.passwordMatches(Buffer.from('')))
  t.notOk(u.passwordMatches(Buffer.alloc(100000, 1)), 'a long guess is just another digest')
  t.ok(user('nopass').passwordMatches(Buffer.from('anything')))
  t.notOk(user('on').passwordMatches(Buffer.from('')), 'no password, not nopass: nothing matches')
})

t.test('rules apply all or nothing', async (t) => {
  const base = user('on', '>a', '~k*')
  const before = describeUser(base)
  const r = stageRules(base, ['>b', '+nosuch'], false)
  t.equal(r, "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL")
  t.equal(describeUser(base), before, 'the user is unchanged')
})

t.test('descriptions rebuild the same permissions', async (t) => {
  const samples = [['+@all', '-@dangerous', '+config|get'], ['-@all', '+@read', '-get', '+select|0'],
    ['+@all', '-@all', '+client', '-client|kill'], ['allcommands', '-@keyspace', '+del']]
  for (const rules of samples) {
    const u = user(...rules)
    const text = describeUser(u)
    const again = user(...text.split(' ').filter((w) => w !== ''))
    t.same(Array.from(again.root.allowed), Array.from(u.root.allowed), rules.join(' '))
    t.equal(describeUser(again), text, `stable: ${text}`)
  }
})
