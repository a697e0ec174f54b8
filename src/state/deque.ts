// A ring-buffer deque: O(1) push and pop at both ends and O(1) indexed access, the shape Redis
// lists need (LPUSH/RPOP queues). Capacity is a power of two; `head` is the index of element 0.

export class Deque<T> {
  private items: (T | undefined)[]
  private head = 0
  private count = 0
  constructor(from?: Iterable<T>) {
    this.items = new Array<T | undefined>(8)
    if (from !== undefined) for (const x of from) this.pushBack(x)
  }
  get length(): number {
    return this.count
  }
  private grow(): void {
    const old = this.items
    const next = new Array<T | undefined>(old.length * 2)
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) & (old.length - 1)]
    this.items = next
    this.head = 0
  }
  pushBack(x: T): void {
    if (this.count === this.items.length) this.grow()
    this.items[(this.head + this.count) & (this.items.length - 1)] = x
    this.count++
  }
  pushFront(x: T): void {
    if (this.count === this.items.length) this.grow()
    this.head = (this.head - 1) & (this.items.length - 1)
    this.items[this.head] = x
    this.count++
  }
  popFront(): T | undefined {
    if (this.count === 0) return undefined
    const x = this.items[this.head]
    this.items[this.head] = undefined
    this.head = (this.head + 1) & (this.items.length - 1)
    this.count--
    return x
  }
  popBack(): T | undefined {
    if (this.count === 0) return undefined
    const i = (this.head + this.count - 1) & (this.items.length - 1)
    const x = this.items[i]
    this.items[i] = undefined
    this.count--
    return x
  }
  get(index: number): T | undefined {
    if (index < 0 || index >= this.count) return undefined
    return this.items[(this.head + index) & (this.items.length - 1)]
  }
  set(index: number, x: T): void {
    if (index < 0 || index >= this.count) return
    this.items[(this.head + index) & (this.items.length - 1)] = x
  }
  /** O(n): rebuilds; used by LINSERT / LREM, which are O(n) in Redis too. */
  splice(index: number, removeCount: number, ...insert: T[]): T[] {
    const all = this.toArray()
    const removed = all.splice(index, removeCount, ...insert)
    this.items = new Array<T | undefined>(8)
    this.head = 0
    this.count = 0
    for (const x of all) this.pushBack(x)
    return removed
  }
  toArray(start = 0, end = this.count): T[] {
    const out: T[] = []
    for (let i = Math.max(0, start); i < Math.min(end, this.count); i++) {
      out.push(this.items[(this.head + i) & (this.items.length - 1)] as T)
    }
    return out
  }
  [Symbol.iterator](): Iterator<T> {
    let i = 0
    return {
      next: (): IteratorResult<T> => i < this.count
        ? { value: this.items[(this.head + i++) & (this.items.length - 1)] as T, done: false }
        : { value: undefined, done: true },
    }
  }
}
