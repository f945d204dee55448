import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import type { AuthorizeAction } from '../authenticator.js'
import { compilePermissions, loadPermissionsFile } from './permissions-authorize.js'

const EXAMPLE = fileURLToPath(new URL('../../../../../examples/permissions.json', import.meta.url))
const ACTIONS: readonly AuthorizeAction[] = ['read', 'publish', 'signal', 'presence', 'manage']

/** The actions `authorize` allows to `user` with `claims` on `stream`. */
async function allowed(
  authorize: ReturnType<typeof loadPermissionsFile>['authorize'],
  user: string,
  stream: string,
  claims: Record<string, unknown> = {},
): Promise<AuthorizeAction[]> {
  const out: AuthorizeAction[] = []
  for (const action of ACTIONS) {
    if (await authorize(user, stream, action, { claims })) out.push(action)
  }
  return out
}

describe('the example policy (examples/permissions.json)', () => {
  const { authorize, warnings } = loadPermissionsFile(EXAMPLE)
  const member = { sub: 'alice', rooms: ['general', 'random'] }
  const outsider = { sub: 'bob', rooms: ['random'] }
  const admin = { sub: 'carol', role: 'admin' }

  it('loads without warnings', () => {
    expect(warnings).toEqual([])
  })

  it('lets a user read and publish on their own user stream, nothing more', async () => {
    expect(await allowed(authorize, 'alice', 'user:alice', member)).toEqual(['read', 'publish'])
    // `|` is no stream-name character: no pattern matches such a name, whoever asks.
    expect(await allowed(authorize, 'auth0|42', 'user:auth0|42')).toEqual([])
  })

  it("denies everything on another user's stream, to members and admins alike", async () => {
    expect(await allowed(authorize, 'bob', 'user:alice', outsider)).toEqual([])
    expect(await allowed(authorize, 'carol', 'user:alice', admin)).toEqual([])
    // The id is compared whole: a prefix or a different case is another user.
    expect(await allowed(authorize, 'alic', 'user:alice')).toEqual([])
    expect(await allowed(authorize, 'Alice', 'user:alice')).toEqual([])
  })

  it('lets every user read a room and see its presence', async () => {
    expect(await allowed(authorize, 'dave', 'room:general')).toEqual(['read', 'presence'])
    expect(await allowed(authorize, 'bob', 'room:general', outsider)).toEqual(['read', 'presence'])
  })

  it('lets members listed in the rooms claim publish and signal in the room', async () => {
    expect(await allowed(authorize, 'alice', 'room:general', member)).toEqual([
      'read',
      'publish',
      'signal',
      'presence',
    ])
    expect(await allowed(authorize, 'bob', 'room:random', outsider)).toEqual([
      'read',
      'publish',
      'signal',
      'presence',
    ])
  })

  it('lets an admin manage a room without making them a member', async () => {
    expect(await allowed(authorize, 'carol', 'room:general', admin)).toEqual([
      'read',
      'presence',
      'manage',
    ])
  })

  it.each([
    ['rooms as a string', { rooms: 'general' }],
    ['rooms holding a prefix', { rooms: ['gen'] }],
    ['rooms in another case', { rooms: ['General'] }],
    ['rooms nested in another claim', { app: { rooms: ['general'] } }],
    ['role as an array', { role: ['admin'] }],
    ['role in another case', { role: 'Admin' }],
  ])('grants nothing beyond reading for %s', async (_name, claims) => {
    expect(await allowed(authorize, 'erin', 'room:general', claims)).toEqual(['read', 'presence'])
  })

  it.each([
    'dm:alice:bob',
    'room:general:archive',
    'room:general/x',
    'rooms:general',
    'users:alice',
    'user:alice:drafts',
    'general',
  ])('denies every action on %s, which no rule names', async (stream) => {
    const everything = { rooms: ['general', 'general:archive'], role: 'admin' }
    expect(await allowed(authorize, 'alice', stream, everything)).toEqual([])
  })
})

describe('createPermissionsAuthorize', () => {
  const compile = (rules: unknown[]): ReturnType<typeof compilePermissions> =>
    compilePermissions(JSON.stringify({ rules }), 'test.json')

  it('lets the first matching rule decide, a deny before an allow', async () => {
    const { authorize } = compile([
      { stream: 'room:{name}', deny: ['publish'], when: [{ claim: 'muted', equals: true }] },
      { stream: 'room:*', allow: ['publish'] },
    ])
    expect(await authorize('a', 'room:x', 'publish', { claims: { muted: true } })).toBe(false)
    expect(await authorize('a', 'room:x', 'publish', { claims: { muted: false } })).toBe(true)
    expect(await authorize('a', 'room:x', 'publish', { claims: {} })).toBe(true)
  })

  it('denies what no rule allows', async () => {
    const { authorize } = compile([{ stream: 'public:*', allow: ['read'] }])
    expect(await authorize('a', 'public:news', 'read', { claims: {} })).toBe(true)
    expect(await authorize('a', 'public:news', 'publish', { claims: {} })).toBe(false)
    expect(await authorize('a', 'private:x', 'read', { claims: {} })).toBe(false)
  })

  it('reads a claim by a path and a namespaced claim by its whole name', async () => {
    const { authorize } = compile([
      {
        stream: 'team:{t}',
        allow: ['read'],
        when: [{ claim: ['realm_access', 'roles'], contains: 'team-{t}' }],
      },
      {
        stream: 'org:{o}',
        allow: ['read'],
        when: [{ claim: 'https://acme.test/org', equals: '{o}' }],
      },
    ])
    const claims = { realm_access: { roles: ['team-blue'] }, 'https://acme.test/org': 'acme' }
    expect(await authorize('a', 'team:blue', 'read', { claims })).toBe(true)
    expect(await authorize('a', 'team:red', 'read', { claims })).toBe(false)
    expect(await authorize('a', 'org:acme', 'read', { claims })).toBe(true)
    expect(await authorize('a', 'org:other', 'read', { claims })).toBe(false)
  })

  it('does not find claims on the object prototype', async () => {
    const { authorize } = compile([
      {
        stream: 'x',
        allow: ['read'],
        when: [{ claim: ['constructor', 'name'], equals: 'Object' }],
      },
      { stream: 'y', allow: ['read'], when: [{ claim: 'toString', equals: null }] },
    ])
    expect(await authorize('a', 'x', 'read', { claims: {} })).toBe(false)
    expect(await authorize('a', 'y', 'read', { claims: {} })).toBe(false)
  })

  it('matches every action with "*" and several patterns per rule', async () => {
    const { authorize } = compile([
      { stream: ['inbox:{u}', 'outbox:{u}'], allow: ['*'], when: [{ user: '{u}' }] },
    ])
    for (const action of ACTIONS) {
      expect(await authorize('ann', 'inbox:ann', action, { claims: {} })).toBe(true)
      expect(await authorize('ann', 'outbox:ann', action, { claims: {} })).toBe(true)
      expect(await authorize('ann', 'inbox:bob', action, { claims: {} })).toBe(false)
    }
  })

  it('compares numbers and booleans strictly', async () => {
    const { authorize } = compile([
      { stream: 'tier', allow: ['read'], when: [{ claim: 'tier', equals: 2 }] },
    ])
    expect(await authorize('a', 'tier', 'read', { claims: { tier: 2 } })).toBe(true)
    expect(await authorize('a', 'tier', 'read', { claims: { tier: '2' } })).toBe(false)
  })
})
