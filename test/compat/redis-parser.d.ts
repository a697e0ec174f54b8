// Minimal types for the `redis-parser` package (a RESP2 reply parser; no @types package exists).
declare module 'redis-parser' {
  interface RedisParserOptions {
    returnReply: (reply: unknown) => void
    returnError: (error: Error) => void
    returnFatalError?: (error: Error) => void
    returnBuffers?: boolean
    stringNumbers?: boolean
  }
  class RedisParser {
    constructor(options: RedisParserOptions)
    execute(buffer: Buffer): void
    reset(): void
  }
  export default RedisParser
}
