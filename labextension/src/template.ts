/**
 * Grafana template references in a query (`$var`, `${var:format}`, `[[var]]`, `$__rate_interval`),
 * which `%%promql` expands in the kernel, replaced for the linter by PromQL of the same length:
 * a duration where one is expected, a number after an operator or as a scalar parameter, a name
 * elsewhere. The query's offsets stay the same, so diagnostics need no mapping back; strings and
 * comments are left as they are (a reference in a string is already valid PromQL).
 */

// The kernel's grammar (sysmon_magic/templating.py): a name starts with a letter or `_`, so
// label_replace's `$1` is not a reference. Strings and comments come first, to be skipped.
const TOKENS =
  /"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`[^`]*`|#[^\n]*|\$\{[A-Za-z_][^}]*\}|\$[A-Za-z_]\w*|\[\[[A-Za-z_]\w*(?::\w+)?\]\]/g;
/** What comes before a duration: `[`, a subquery's `:`, `offset`. */
const BEFORE_DURATION = /(?:\[|:|\boffset)\s*$/;
/** What comes before a number: an operator, or the `(` of a function taking a scalar first. */
const BEFORE_NUMBER =
  /(?:[-+*/%^<>]|[=!<>]=|\b(?:topk|bottomk|limitk|limit_ratio|quantile|quantile_over_time|histogram_quantile|round|clamp_min|clamp_max)\s*\()\s*$/;

function placeholder(before: string, length: number): string {
  if (BEFORE_DURATION.test(before)) {
    return '9'.repeat(length - 1) + 's';
  }
  if (BEFORE_NUMBER.test(before)) {
    return '9'.repeat(length);
  }
  return 'x' + '_'.repeat(length - 1);
}

/** `query` with every template reference outside strings and comments made plain PromQL. */
export function withoutTemplates(query: string): string {
  return query.replace(TOKENS, (token: string, offset: number) => {
    const first = token[0];
    if (first === '"' || first === "'" || first === '`' || first === '#') {
      return token;
    }
    return placeholder(query.slice(0, offset), token.length);
  });
}
