// A configuration problem: a bad setting, or a resource a setting names that cannot be
// used (an unreadable key file, an unreachable bucket). It lives in the leaf module
// because the layers that open those resources (storage, auth) raise it, and the
// command line turns it into one line on stderr and exit status 2.
export class ConfigError extends Error {
  override name = 'ConfigError';
}
