// CSV import of desktop users: parsing (RFC 4180 quotes) and the per-row checks of the
// preview. The checks mirror the server's rules (user name, password policy, uniqueness);
// the server still checks every row again when it is created.

/** Rows of cells; quoted cells may hold commas, quotes ("") and newlines. */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(cell), (cell = '');
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      (row = []), (cell = '');
    } else cell += c;
  }
  if (cell !== '' || row.length) row.push(cell), rows.push(row);
  return rows.filter((r) => r.some((x) => x.trim() !== ''));
}

const NAME = /^[A-Za-z0-9@.\-\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF][A-Za-z0-9_@.\-\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF]{0,31}$/;

function passwordProblem(pw, p) {
  if (!p) return '';
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(pw)).length;
  const n = [...pw].length;
  if (n < p.min_length || n > p.max_length || classes < p.min_classes) {
    return `password: ${p.min_length}–${p.max_length} characters, at least ${p.min_classes} kinds`;
  }
  return '';
}

/** Each row with its first problem ('' when none); a header line `user_name,…` is skipped. */
export async function checkRows(rows, policy, exists) {
  const seen = new Set();
  const out = [];
  rows.forEach((r, i) => {
    if (i === 0 && /user_?name/i.test(r[0] || '')) return;
    const [user_name = '', group = '', real_name = '', password = ''] = r.map((x) => x.trim());
    let problem = '';
    if (r.length < 4) problem = `needs 4 columns, has ${r.length}`;
    else if (!NAME.test(user_name)) problem = 'user name: 1–32 letters, digits, Chinese, _ - @ . (not starting with _)';
    else if (seen.has(user_name)) problem = 'user name repeated in the file';
    else if (!group) problem = 'group path is empty';
    else if (!password) problem = 'password is empty';
    else problem = passwordProblem(password, policy);
    seen.add(user_name);
    out.push({ line: i + 1, user_name, group, real_name, password, problem });
  });
  for (const r of out) {
    if (!r.problem && (await exists(r.user_name))) r.problem = 'user already exists';
  }
  return out;
}
