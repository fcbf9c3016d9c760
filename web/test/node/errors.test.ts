/**
 * The browser's table of the server's error codes (src/errors.ts) is the one of
 * protocol/conformance/errors/wire-codes.json, which tests/unit/test_errors.py checks
 * Python's table against: each code raises its class, keeps its code, reads
 * "<code>: <message>"; a code not listed stays a plain ServerError with that code.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { RemoteError, SERVER_ERRORS, ServerError, serverError } from "../../src/errors.js";
import { readJson } from "./support.js";

interface WireCodes {
  readonly version: number;
  readonly codes: Readonly<Record<string, string>>;
  readonly unknown_code: string;
  readonly text: { readonly code: string; readonly message: string; readonly expected: string };
}

const doc = readJson<WireCodes>("protocol/conformance/errors/wire-codes.json");

test("the table is the conformance file's", () => {
  assert.equal(doc.version, 1);
  const table = Object.fromEntries(Object.entries(SERVER_ERRORS).map(([code, cls]) => [code, cls.name]));
  assert.deepEqual(table, doc.codes);
});

test("each code raises its class, with its code and text", () => {
  for (const [code, name] of Object.entries(doc.codes)) {
    const error = serverError(code, "why");
    assert.equal(error.constructor.name, name);
    assert.ok(error instanceof ServerError && error instanceof RemoteError);
    assert.equal(error.code, code);
    assert.equal(error.message, `${code}: why`);
    assert.equal(new (SERVER_ERRORS[code] ?? ServerError)("x").code, code, "a class knows its own code");
  }
});

test("an unknown code stays a ServerError with that code", () => {
  const error = serverError("a-code-of-later", "hm");
  assert.equal(error.constructor.name, doc.unknown_code);
  assert.equal(error.code, "a-code-of-later");
  assert.equal(serverError("toString", "hm").constructor.name, doc.unknown_code); // not a prototype's key
  assert.equal(serverError(doc.text.code, doc.text.message).message, doc.text.expected);
});
