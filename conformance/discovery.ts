// Content discovery workflow: tags/list with n/last/Link paging, and the optional catalog.
import { expect, expectEqual, expectError, expectStatus, fail, isRecord, nextLink, parseJson } from './assert.ts';
import type { WorkflowContext } from './context.ts';
import { CheckSkip, valueOf } from './context.ts';
import type { HttpResponse } from './http.ts';
import { withQuery } from './http.ts';
import { randomHex, randomImage } from './fixtures.ts';
import { pushImage } from './ops.ts';

/** Parses a tags/list body; `tags` must be an array of strings. */
function parseTags(res: HttpResponse, name: string): string[] {
  const body = parseJson(res);
  if (!isRecord(body)) fail(`tags/list: expected a JSON object, got ${res.body.toString('utf8').slice(0, 200)}`);
  expectEqual(body['name'], name, 'tags/list "name"');
  const tags = body['tags'];
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) {
    fail(`tags/list "tags": expected an array of strings, got ${JSON.stringify(tags)}`);
  }
  return tags as string[];
}

const ascii = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const folded = (a: string, b: string): number => ascii(a.toLowerCase(), b.toLowerCase()) || ascii(a, b);

/** Sorted in ASCII order, or case-insensitively (the spec allows either). */
function isSorted(list: readonly string[]): boolean {
  const ok = (cmp: (a: string, b: string) => number): boolean =>
    list.every((v, i) => i === 0 || cmp(list[i - 1] as string, v) < 0);
  return ok(ascii) || ok(folded);
}

export async function runDiscovery(ctx: WorkflowContext): Promise<void> {
  const c = ctx.client;
  const repo = ctx.namespace;
  const prefix = `d${randomHex(3)}`;
  // Pushed deliberately out of order.
  const ours = ['m', 'b1', 'z', 'a', 'b0', '9', 'k'].map((s) => `${prefix}-${s}`);
  const tagsPath = `/v2/${repo}/tags/list`;

  const pushed = await ctx.check(`setup: push an image under ${ours.length} tags`, () => pushImage(c, repo, randomImage([512]), ours));

  const full = await ctx.check('GET tags/list returns 200 with name and every pushed tag', async () => {
    const res = await c.request('GET', tagsPath);
    expectStatus(res, 200);
    const tags = parseTags(res, repo);
    const missing = ours.filter((t) => !tags.includes(t));
    expect(missing.length === 0, `tags/list is missing ${JSON.stringify(missing)}; got ${JSON.stringify(tags)}`);
    if (nextLink(res) !== undefined) throw new CheckSkip('registry paginates the unbounded list; cannot check completeness');
    return tags;
  }, [pushed]);
  // Reference order for the paging checks: the registry's own if it is sorted, else ASCII order.
  const sorted = (): string[] => {
    const all = valueOf(full);
    return isSorted(all) ? all : [...all].sort(ascii);
  };

  await ctx.check('tags/list is sorted lexically', async () => {
    const tags = valueOf(full);
    expect(isSorted(tags), `tags not in lexical order: ${JSON.stringify(tags)}`);
    expect(new Set(tags).size === tags.length, `tags/list contains duplicates: ${JSON.stringify(tags)}`);
  }, [full]);

  await ctx.check('tags/list?n=2 returns the first 2 tags and a Link rel="next"', async () => {
    const all = sorted();
    const res = await c.request('GET', withQuery(c.url(tagsPath), { n: '2' }));
    expectStatus(res, 200);
    const tags = parseTags(res, repo);
    expect(tags.length <= 2, `expected at most 2 tags, got ${JSON.stringify(tags)}`);
    expectEqual(JSON.stringify(tags), JSON.stringify(all.slice(0, tags.length)), 'first page');
    expect(nextLink(res) !== undefined, `expected a Link header with rel="next" (${all.length} tags exist), got ${JSON.stringify(res.headers.get('link'))}`);
    expect(tags.length === 2, `expected exactly 2 tags, got ${JSON.stringify(tags)}`);
  }, [full]);

  await ctx.check('following Link rel="next" from ?n=2 yields every tag exactly once, in order', async () => {
    const all = sorted();
    const collected: string[] = [];
    let url: string | undefined = withQuery(c.url(tagsPath), { n: '2' });
    for (let page = 0; url !== undefined; page++) {
      expect(page <= all.length + 1, `Link paging did not terminate after ${page} pages`);
      const res = await c.request('GET', url);
      expectStatus(res, 200);
      const tags = parseTags(res, repo);
      expect(tags.length <= 2, `page ${page + 1}: expected at most 2 tags, got ${JSON.stringify(tags)}`);
      collected.push(...tags);
      const next = nextLink(res);
      url = next === undefined ? undefined : c.resolve(next, res.url);
    }
    expectEqual(JSON.stringify(collected), JSON.stringify(all), 'concatenated pages');
  }, [full]);

  await ctx.check('tags/list?n=2&last=<tag> returns the 2 tags after <tag>', async () => {
    const all = sorted();
    const last = all[1] as string;
    const res = await c.request('GET', withQuery(c.url(tagsPath), { n: '2', last }));
    expectStatus(res, 200);
    const tags = parseTags(res, repo);
    expectEqual(JSON.stringify(tags), JSON.stringify(all.slice(2, 4)), `tags after ${JSON.stringify(last)}`);
  }, [full]);

  await ctx.check('tags/list?last=<tag> without n returns the tags after <tag>', async () => {
    const all = sorted();
    const last = ours.slice().sort(ascii)[2] as string;
    const res = await c.request('GET', withQuery(c.url(tagsPath), { last }));
    expectStatus(res, 200);
    const tags = parseTags(res, repo);
    const expected = all.slice(all.indexOf(last) + 1);
    const want = nextLink(res) !== undefined ? expected.slice(0, tags.length) : expected;
    expectEqual(JSON.stringify(tags), JSON.stringify(want), `tags after ${JSON.stringify(last)}`);
  }, [full]);

  await ctx.check('tags/list?n=0 returns an empty list and no Link', async () => {
    const res = await c.request('GET', withQuery(c.url(tagsPath), { n: '0' }));
    expectStatus(res, 200);
    const tags = parseTags(res, repo);
    expectEqual(JSON.stringify(tags), '[]', 'tags for n=0');
    expectEqual(nextLink(res), undefined, 'Link rel="next" for n=0');
  }, [pushed]);

  await ctx.check('tags/list for an unknown repository returns 404 NAME_UNKNOWN', async () => {
    const res = await c.request('GET', `/v2/${repo}-missing-${randomHex(4)}/tags/list`);
    expectError(res, 404, ['NAME_UNKNOWN']);
  });

  await runCatalog(ctx, pushed.ok);
  await ctx.checkApiVersionHeaders();
}

function parseRepositories(res: HttpResponse): string[] {
  const body = parseJson(res);
  const repos = isRecord(body) ? body['repositories'] : undefined;
  if (!Array.isArray(repos) || !repos.every((r) => typeof r === 'string')) {
    fail(`_catalog "repositories": expected an array of strings, got ${res.body.toString('utf8').slice(0, 200)}`);
  }
  return repos as string[];
}

async function runCatalog(ctx: WorkflowContext, pushed: boolean): Promise<void> {
  const c = ctx.client;
  const listed = await ctx.check('GET /v2/_catalog returns 200 with a sorted repositories list (optional API)', async () => {
    const res = await c.request('GET', '/v2/_catalog');
    if (res.status === 404 || res.status === 405) {
      throw new CheckSkip(`catalog not implemented (status ${res.status}); it is not part of the OCI spec`);
    }
    expectStatus(res, 200);
    const repos = parseRepositories(res);
    expect(isSorted(repos), `repositories not in lexical order: ${JSON.stringify(repos.slice(0, 20))}`);
    if (pushed && nextLink(res) === undefined) {
      expect(repos.includes(ctx.namespace), `expected ${ctx.namespace} in the catalog`);
    }
    return repos;
  });

  await ctx.check('GET /v2/_catalog?n=1 pages with Link rel="next"', async () => {
    let url: string | undefined = withQuery(c.url('/v2/_catalog'), { n: '1' });
    let previous: string | undefined;
    for (let page = 0; page < 3 && url !== undefined; page++) {
      const res = await c.request('GET', url);
      expectStatus(res, 200);
      const repos = parseRepositories(res);
      expect(repos.length <= 1, `page ${page + 1}: expected at most 1 repository, got ${JSON.stringify(repos)}`);
      const current = repos[0];
      if (previous !== undefined && current !== undefined) {
        expect(ascii(previous, current) < 0, `page ${page + 1} (${current}) does not come after ${previous}`);
      }
      previous = current ?? previous;
      const next = nextLink(res);
      if (page === 0 && valueOf(listed).length > 1) {
        expect(next !== undefined, 'expected a Link rel="next" header on the first page of ?n=1');
      }
      url = next === undefined ? undefined : c.resolve(next, res.url);
    }
  }, [listed]);
}
