/**
 * The shared-tree routes (issue 16; docs/http-api.md, "Shared trees") through fastify's `inject`
 * over a real swim node: PUT and DELETE behind the token (401 without, nothing written), any
 * bytes as a value (base64 in JSON when not UTF-8), keys with `/` and spaces percent-encoded, a
 * proof that verifies against the root `GET /v1/trees/<name>` answers (and, parsed back from its
 * JSON, fails once tampered), 404 for a tree not held, 400 for a bad name, 413 past 64 KiB.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAgentApp } from '../../src/agent/server.js';
import { fromHex } from '../../src/base/hex.js';
import { treeProofFromJson, verifyTreeProof } from '../../src/node/data-tree.js';
import type { ShoalNode } from '../../src/node/node.js';
import { closeAll, startNode } from './nodes.js';

const TOKEN = 'sixteen-chars-token-0123';
const bearer = { authorization: `Bearer ${TOKEN}` };
const auth = { ...bearer, 'content-type': 'application/octet-stream' };

describe('shared tree routes (inject)', () => {
  let node: ShoalNode;
  let app: FastifyInstance;
  beforeAll(async () => {
    node = await startNode('tree-api-1');
    app = buildAgentApp(node, { httpToken: TOKEN });
  });
  afterAll(async () => {
    await app.close();
    await closeAll();
  });

  const put = (path: string, body: string | Buffer, headers: Record<string, string> = auth) =>
    app.inject({ method: 'PUT', url: `/v1/trees/${path}`, payload: body, headers });

  it('writes behind the token, lists, proves, deletes', async () => {
    const refused = await put('cfg/color', 'blue', { 'content-type': 'text/plain' });
    expect(refused.statusCode).toBe(401);
    expect(node.trees.get('cfg')).toBeUndefined();

    const res = await put('cfg/color', 'blue');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().entry).toMatchObject({ key: 'color', value: 'blue', deleted: false });
    const binary = await put('cfg/a%2Fb%20c', Buffer.from([0xff, 0x00, 0x80]));
    expect(binary.json().entry).toMatchObject({ key: 'a/b c', value: '/wCA', encoding: 'base64' });

    const listed = (await app.inject('/v1/trees')).json().trees;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ name: 'cfg', size: 2, fanout: 16, depth: 2 });
    const info = (await app.inject('/v1/trees/cfg')).json();
    expect(info.root).toBe(binary.json().root);

    const proofJson = (await app.inject('/v1/trees/cfg/proof/a%2Fb%20c')).json();
    const proof = treeProofFromJson(proofJson);
    expect(proof.entry?.value).toEqual(new Uint8Array([0xff, 0x00, 0x80]));
    expect(verifyTreeProof(fromHex(info.root), proof)).toBe(true);
    const tampered = treeProofFromJson({ ...proofJson, entry: { ...proofJson.entry, value: 'x' } });
    expect(verifyTreeProof(fromHex(info.root), tampered)).toBe(false);
    const absent = treeProofFromJson((await app.inject('/v1/trees/cfg/proof/nope')).json());
    expect(absent.entry).toBeUndefined();
    expect(verifyTreeProof(fromHex(info.root), absent)).toBe(true);

    const del = await app.inject({ method: 'DELETE', url: '/v1/trees/cfg/color', headers: bearer });
    expect(del.json()).toMatchObject({ deleted: true });
    expect(node.trees.get('cfg')?.size).toBe(1);
    const again = await app.inject({
      method: 'DELETE',
      url: '/v1/trees/cfg/color',
      headers: bearer,
    });
    expect(again.json()).toMatchObject({ deleted: false });
  });

  it('answers 404 for a tree not held, 400 for a bad name, 413 past 64 KiB', async () => {
    const missing = await app.inject('/v1/trees/nothing');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('ERR_NOT_FOUND');
    expect((await app.inject('/v1/trees/nothing/proof/k')).statusCode).toBe(404);
    const badName = await put('bad%20name/k', 'v');
    expect(badName.statusCode).toBe(400);
    expect(badName.json().error.code).toBe('ERR_INVALID_ARGUMENT');
    expect((await put('big/k', Buffer.alloc(65_537))).statusCode).toBe(413);
    expect(node.trees.get('big')).toBeUndefined();
  });
});
