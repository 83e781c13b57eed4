// Policies an operator sets, as every layer sees them: the database stores them,
// the configuration reads them, the registry applies them.

export interface RetentionPolicy {
  id: number;
  repositoryGlob: string;
  /** null: tags are never deleted by count */
  keepLast: number | null;
  /** null: no tag is kept by name */
  keepRegex: string | null;
  /** null: untagged manifests are kept */
  untaggedDelaySeconds: number | null;
  /**
   * null: nothing is deleted for not being pulled. Otherwise tags whose manifest was neither pulled
   * nor (the tag) pushed for this long, unless another rule keeps them, then the manifests left
   * untagged and unpulled as long: the eviction of a pull-through cache.
   */
  unpulledDelaySeconds: number | null;
}

export interface ImmutableRule {
  id: number;
  repositoryGlob: string;
  tagPattern: string;
}

export interface GcPolicy {
  /** Seconds an entry stays unreferenced before it is collected (protects layers pushed before their manifest). */
  reviewDelay: number;
  /** What happens to a manifest no tag and no index references. */
  untagged: 'keep' | 'delete';
  /** Collect a referrer whose subject manifest is gone. */
  orphanReferrers: boolean;
}
