import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearerToken, extractUpgradeToken, selectSubprotocol } from './upgrade-token.js';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl';

function request(headers: Record<string, string>, url = '/ws') {
  return { headers, url };
}

describe('bearerToken', () => {
  it('reads the token of a Bearer header, scheme case-insensitive', () => {
    assert.equal(bearerToken(`Bearer ${JWT}`), JWT);
    assert.equal(bearerToken(`bearer ${JWT}`), JWT);
    assert.equal(bearerToken(`BEARER  ${JWT} `), JWT);
  });

  it('finds nothing in other schemes, empty or malformed values', () => {
    for (const value of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      `Basic ${JWT}`,
      `Bearer ${JWT} extra`,
      JWT,
    ]) {
      assert.equal(bearerToken(value), undefined, String(value));
    }
  });
});

describe('extractUpgradeToken', () => {
  it('takes the Authorization header', () => {
    // Act
    const found = extractUpgradeToken(request({ authorization: `Bearer ${JWT}` }));

    // Assert
    assert.deepEqual(found, { token: JWT, source: 'authorization_header' });
  });

  it('takes a bearer.<jwt> entry of Sec-WebSocket-Protocol', () => {
    // Act
    const found = extractUpgradeToken(
      request({ 'sec-websocket-protocol': `task-status.v1, bearer.${JWT}` }),
    );

    // Assert
    assert.deepEqual(found, { token: JWT, source: 'subprotocol' });
  });

  it('takes the token query parameter, decoded', () => {
    // Act
    const found = extractUpgradeToken(request({}, `/ws?x=1&token=${encodeURIComponent(JWT)}`));

    // Assert
    assert.deepEqual(found, { token: JWT, source: 'query' });
  });

  it('prefers the header, then the subprotocol, then the query', () => {
    // Arrange
    const all = request(
      { authorization: 'Bearer from-header', 'sec-websocket-protocol': 'bearer.from-protocol' },
      '/ws?token=from-query',
    );
    const noHeader = request(
      { 'sec-websocket-protocol': 'bearer.from-protocol' },
      '/ws?token=from-query',
    );

    // Act / Assert
    assert.equal(extractUpgradeToken(all)?.token, 'from-header');
    assert.equal(extractUpgradeToken(noHeader)?.token, 'from-protocol');
  });

  it('finds nothing without a token, or with empty ones', () => {
    const cases = [
      request({}),
      request({}, '/ws?token='),
      request({}, '/ws?tokens=abc'),
      request({ 'sec-websocket-protocol': 'task-status.v1' }),
      request({ 'sec-websocket-protocol': 'bearer.' }),
      request({ authorization: 'Basic dXNlcjpwYXNz' }),
    ];
    for (const candidate of cases) {
      assert.equal(extractUpgradeToken(candidate), undefined, JSON.stringify(candidate));
    }
  });
});

describe('selectSubprotocol', () => {
  it('selects task-status.v1 when offered, whatever the order', () => {
    assert.equal(selectSubprotocol(new Set([`bearer.${JWT}`, 'task-status.v1'])), 'task-status.v1');
  });

  it('never selects the token entry', () => {
    assert.equal(selectSubprotocol(new Set([`bearer.${JWT}`])), false);
    assert.equal(selectSubprotocol(new Set([`bearer.${JWT}`, 'chat'])), 'chat');
  });

  it('keeps the first offered protocol for clients that know nothing of tokens', () => {
    assert.equal(selectSubprotocol(new Set(['chat', 'superchat'])), 'chat');
  });
});
