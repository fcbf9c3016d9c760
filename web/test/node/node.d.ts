// The Node APIs the tests in this folder may use (the project's TypeScript has the DOM lib,
// not @types/node): node:test, node:assert/strict, a little of node:fs. One declaration
// for every test file; extend it here. The runner is web/scripts/node-tests.mjs.

declare module "node:test" {
  type Body = (context: unknown) => void | Promise<void>;
  interface Options {
    readonly timeout?: number;
    readonly skip?: boolean | string;
    readonly only?: boolean;
  }
  export function test(name: string, body: Body): Promise<void>;
  export function test(name: string, options: Options, body: Body): Promise<void>;
  export function describe(name: string, body: () => void | Promise<void>): Promise<void>;
  export function it(name: string, body: Body): Promise<void>;
  export function before(body: () => void | Promise<void>): void;
  export function after(body: () => void | Promise<void>): void;
  export function beforeEach(body: () => void | Promise<void>): void;
  export function afterEach(body: () => void | Promise<void>): void;
}

declare module "node:assert/strict" {
  interface Assert {
    (value: unknown, message?: string): asserts value;
    ok(value: unknown, message?: string): asserts value;
    equal<T>(actual: unknown, expected: T, message?: string): asserts actual is T;
    notEqual(actual: unknown, expected: unknown, message?: string): void;
    strictEqual<T>(actual: unknown, expected: T, message?: string): asserts actual is T;
    deepEqual<T>(actual: unknown, expected: T, message?: string): asserts actual is T;
    deepStrictEqual<T>(actual: unknown, expected: T, message?: string): asserts actual is T;
    notDeepEqual(actual: unknown, expected: unknown, message?: string): void;
    match(value: string, pattern: RegExp, message?: string): void;
    throws(body: () => unknown, error?: unknown, message?: string): void;
    doesNotThrow(body: () => unknown, message?: string): void;
    rejects(body: Promise<unknown> | (() => Promise<unknown>), error?: unknown, message?: string): Promise<void>;
    doesNotReject(body: Promise<unknown> | (() => Promise<unknown>), message?: string): Promise<void>;
    fail(message?: string): never;
  }
  const assert: Assert;
  export default assert;
}

declare module "node:fs" {
  export function readFileSync(path: string, encoding: "utf8"): string;
  export function readdirSync(path: string): string[];
  export function existsSync(path: string): boolean;
}
