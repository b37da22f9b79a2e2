// Kiln app front end, shipped inside every generated app as `public/_kiln/ui.js`.
// Preact + htm, served by the app itself. The app's own `public/schema.js` describes its pages and
// entities; this module renders sign-up/sign-in and a list/create/edit/delete view per entity.
import { h, render } from "./vendor/preact.mjs";
import { useEffect, useState } from "./vendor/hooks.mjs";
import htm from "./vendor/htm.mjs";
import schema from "../schema.js";

const html = htm.bind(h);
const TOKEN = `kiln:${schema.app}:token`;

async function api(method, path, body) {
  const token = localStorage.getItem(TOKEN);
  const res = await fetch(path, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data?.error?.message ?? `request failed (${res.status})`);
  return data;
}

function Auth({ onIn }) {
  const [mode, setMode] = useState("login");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [err, setErr] = useState("");
  const submit = async (e) => {
    e.preventDefault();
    setErr("");
    try {
      const r = await api("POST", `/api/auth/${mode}`, { email, password });
      localStorage.setItem(TOKEN, r.token);
      onIn(r.user);
    } catch (x) {
      setErr(x.message);
    }
  };
  return html`<form class="card auth" onSubmit=${submit}>
    <h2>${mode === "login" ? "Sign in" : "Create an account"}</h2>
    <label>Email<input type="email" required value=${email} onInput=${(e) => setEmail(e.target.value)} /></label>
    <label>Password<input type="password" required minlength="8" value=${password} onInput=${(e) => setPassword(e.target.value)} /></label>
    ${err && html`<p class="error">${err}</p>`}
    <button type="submit">${mode === "login" ? "Sign in" : "Sign up"}</button>
    <button type="button" class="link" onClick=${() => setMode(mode === "login" ? "register" : "login")}>
      ${mode === "login" ? "No account? Sign up" : "Have an account? Sign in"}
    </button>
  </form>`;
}

function input(field, value, set) {
  const common = { name: field.name, required: field.required, value: value ?? "", onInput: (e) => set(e.target.value) };
  switch (field.type) {
    case "longtext":
      return html`<textarea ...${common} rows="4"></textarea>`;
    case "boolean":
      return html`<input type="checkbox" name=${field.name} checked=${!!value} onChange=${(e) => set(e.target.checked)} />`;
    case "integer":
    case "reference":
      return html`<input type="number" step="1" ...${common} />`;
    case "number":
      return html`<input type="number" step="any" ...${common} />`;
    case "rating":
      return html`<select ...${common}><option value="">–</option>${[1, 2, 3, 4, 5].map((n) => html`<option value=${n}>${"★".repeat(n)}</option>`)}</select>`;
    case "date":
      return html`<input type="date" ...${common} />`;
    default:
      return html`<input type="text" ...${common} />`;
  }
}

function show(field, value) {
  if (value === null || value === undefined || value === "") return "—";
  if (field.type === "boolean") return value ? "✓" : "✗";
  if (field.type === "rating") return "★".repeat(Number(value));
  return String(value);
}

function EntityView({ entity }) {
  const [rows, setRows] = useState(null);
  const [draft, setDraft] = useState({});
  const [editing, setEditing] = useState(null);
  const [err, setErr] = useState("");
  const load = () => api("GET", `/api/${entity.table}`).then(setRows, (e) => setErr(e.message));
  useEffect(() => { setRows(null); setDraft({}); setEditing(null); load(); }, [entity.table]);
  const save = async (e) => {
    e.preventDefault();
    setErr("");
    try {
      if (editing) await api("PUT", `/api/${entity.table}/${editing}`, draft);
      else await api("POST", `/api/${entity.table}`, draft);
      setDraft({});
      setEditing(null);
      load();
    } catch (x) {
      setErr(x.message);
    }
  };
  const remove = async (id) => {
    try { await api("DELETE", `/api/${entity.table}/${id}`); load(); } catch (x) { setErr(x.message); }
  };
  return html`<section>
    <h2>${entity.label}</h2>
    <form class="card" onSubmit=${save}>
      ${entity.fields.map((f) => html`<label>${f.label}${f.required ? " *" : ""}${input(f, draft[f.name], (v) => setDraft({ ...draft, [f.name]: v }))}</label>`)}
      ${err && html`<p class="error">${err}</p>`}
      <button type="submit">${editing ? "Save changes" : `Add ${entity.singular}`}</button>
      ${editing && html`<button type="button" class="link" onClick=${() => { setEditing(null); setDraft({}); }}>Cancel</button>`}
    </form>
    ${rows === null ? html`<p class="muted">Loading…</p>`
      : rows.length === 0 ? html`<p class="empty">No ${entity.label.toLowerCase()} yet — add the first one above.</p>`
      : html`<table><thead><tr>${entity.fields.map((f) => html`<th>${f.label}</th>`)}<th></th></tr></thead>
          <tbody>${rows.map((r) => html`<tr>
            ${entity.fields.map((f) => html`<td>${show(f, r[f.name])}</td>`)}
            <td class="actions">
              <button class="link" onClick=${() => { setEditing(r.id); setDraft(Object.fromEntries(entity.fields.map((f) => [f.name, r[f.name]]))); }}>Edit</button>
              <button class="link danger" onClick=${() => remove(r.id)}>Delete</button>
            </td></tr>`)}</tbody></table>`}
  </section>`;
}

function App() {
  const [user, setUser] = useState(undefined);
  const [current, setCurrent] = useState(schema.entities[0]?.table);
  useEffect(() => { api("GET", "/api/auth/me").then((r) => setUser(r.user), () => setUser(null)); }, []);
  const entity = schema.entities.find((e) => e.table === current);
  return html`<div class="app">
    <header><h1>${schema.title}</h1>
      ${user && html`<nav>${schema.entities.map((e) => html`<button class=${e.table === current ? "tab active" : "tab"} onClick=${() => setCurrent(e.table)}>${e.label}</button>`)}
        <span class="muted">${user.email}</span>
        <button class="link" onClick=${() => { localStorage.removeItem(TOKEN); setUser(null); }}>Sign out</button></nav>`}
    </header>
    <main>${user === undefined ? html`<p class="muted">Loading…</p>` : user === null ? html`<${Auth} onIn=${setUser} />` : entity && html`<${EntityView} entity=${entity} />`}</main>
  </div>`;
}

render(html`<${App} />`, document.getElementById("app"));
