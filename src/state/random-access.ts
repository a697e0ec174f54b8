// Sets and hashes that can pick a random member in O(1) (SPOP, SRANDMEMBER, HRANDFIELD), as
// Redis's dict can. A JS Set or Map has no random access: picking the k-th member walks k of
// them, so SPOP on a set of a million members cost milliseconds. These subclasses keep, once the
// first random pick asks for it, an array of the members and each member's index in it, updated
// by every add/set/delete/clear (a delete swaps the last member into the hole). Until then they
// cost one size check per insertion and nothing else, so sets and hashes that are never sampled
// pay no memory for the index.
// Invariant (while `order` is not null): order holds exactly the members, each once, and
// index.get(m) is m's position in order.

/** A uniform integer in [0, n): the caller's generator (commands/random.ts). */
export type Pick = (n: number) => number

/** Positions of the members, built on the first random pick. */
class Order {
  readonly members: string[] = []
  readonly index = new Map<string, number>()

  constructor(members: Iterable<string>) {
    for (const m of members) this.push(m)
  }

  push(m: string): void {
    this.index.set(m, this.members.length)
    this.members.push(m)
  }

  remove(m: string): void {
    const at = this.index.get(m)
    if (at === undefined) return
    this.index.delete(m)
    const last = this.members.pop() as string
    if (at < this.members.length) {
      this.members[at] = last
      this.index.set(last, at)
    }
  }

  random(pick: Pick): string {
    return this.members[pick(this.members.length)] as string
  }
}

/** A Set<string> with O(1) random members (a set value, type 3). */
export class RandomSet extends Set<string> {
  private order: Order | null = null

  override add(m: string): this {
    const size = this.size
    super.add(m)
    if (this.order !== null && this.size !== size) this.order.push(m)
    return this
  }

  override delete(m: string): boolean {
    if (!super.delete(m)) return false
    if (this.order !== null) this.order.remove(m)
    return true
  }

  override clear(): void {
    super.clear()
    this.order = null
  }

  /** A uniformly random member (the set must not be empty). */
  randomMember(pick: Pick): string {
    this.order ??= new Order(this)
    return this.order.random(pick)
  }
}

/** A Map<string, V> with O(1) random keys (a hash value, type 2: field → value). */
export class RandomMap<V> extends Map<string, V> {
  private order: Order | null = null

  override set(k: string, v: V): this {
    const size = this.size
    super.set(k, v)
    if (this.order !== null && this.size !== size) this.order.push(k)
    return this
  }

  override delete(k: string): boolean {
    if (!super.delete(k)) return false
    if (this.order !== null) this.order.remove(k)
    return true
  }

  override clear(): void {
    super.clear()
    this.order = null
  }

  /** A uniformly random key (the map must not be empty). */
  randomKey(pick: Pick): string {
    this.order ??= new Order(this.keys())
    return this.order.random(pick)
  }
}
