import { expect, test } from 'vitest';
import type { RetentionPolicy } from '../../shared/policies.ts';
import { checkGlob, checkTagRegex, immutableMatcher, policyFor, RuleError } from './rules.ts';

const p = (id: number, repositoryGlob: string): RetentionPolicy => ({ id, repositoryGlob, keepLast: 1, keepRegex: null, untaggedDelaySeconds: null, unpulledDelaySeconds: null });

test('the most specific matching glob governs: literals, then fewer wildcards, then no **', () => {
  const all = [p(1, '**'), p(2, 'team/**'), p(3, 'team/*'), p(4, 'team/app'), p(5, 'team/a?p'), p(6, '*/app'), p(7, 'team/app*')];
  const pick = (repo: string) => policyFor(all, repo)?.repositoryGlob;
  expect(pick('team/app')).toBe('team/app');
  expect(pick('team/apps')).toBe('team/app*');
  expect(pick('team/axp')).toBe('team/a?p');
  expect(pick('team/web')).toBe('team/*');
  expect(pick('team/web/x')).toBe('team/**');
  expect(pick('ops/app')).toBe('*/app');
  expect(pick('ops/db')).toBe('**');
  expect(policyFor([p(1, 'team/*')], 'ops/db')).toBeNull();
  // same literals and wildcards: "*" (one component) before "**"
  expect(policyFor([p(1, 'a/**'), p(2, 'a/*')], 'a/b')?.id).toBe(2);
});

test('immutable rules add up; tag patterns match the whole tag', () => {
  const rules = [
    { id: 1, repositoryGlob: 'prod/**', tagPattern: 'v[0-9]+' },
    { id: 2, repositoryGlob: 'prod/app', tagPattern: 'stable' },
  ];
  const m = immutableMatcher(rules, 'prod/app');
  expect(m?.('v1')?.id).toBe(1);
  expect(m?.('stable')?.id).toBe(2);
  expect(m?.('v1-rc')).toBeNull();
  expect(m?.('xstable')).toBeNull();
  expect(immutableMatcher(rules, 'dev/app')).toBeNull();
});

test('validation', () => {
  expect(checkGlob('team/**')).toBe('team/**');
  for (const g of ['', 'Team', 'team/{a,b}', 'a'.repeat(256)]) expect(() => checkGlob(g)).toThrow(RuleError);
  expect(checkTagRegex('v[0-9]+')).toBe('v[0-9]+');
  for (const r of ['', '(', 'a{2,1}', '*', 'x'.repeat(1001)]) expect(() => checkTagRegex(r)).toThrow(RuleError);
});
