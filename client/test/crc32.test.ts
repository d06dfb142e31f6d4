import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import { crc32 } from '../src/crc32.js';

describe('crc32', () => {
  it('gives the known check values', () => {
    assert.equal(crc32(''), 0);
    assert.equal(crc32('a'), 0xe8b7be43);
    assert.equal(crc32('123456789'), 0xcbf43926);
    assert.equal(crc32('The quick brown fox jumps over the lazy dog'), 0x414fa339);
  });

  it('hashes the UTF-8 bytes, as zlib does', () => {
    for (const text of ['é', '550e8400-e29b-41d4-a716-446655440000', 'ü€𝄞', 'x'.repeat(300)]) {
      assert.equal(crc32(text), zlib.crc32(Buffer.from(text, 'utf8')), text);
    }
  });
});
