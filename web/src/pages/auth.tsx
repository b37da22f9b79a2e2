// Sign-up and sign-in.
import { useState } from "preact/hooks";
import { api, setToken } from "../api";
import { Logo, messageOf, Spinner } from "../ui";

export function AuthPage({ mode }: { mode: "signin" | "signup" }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const signup = mode === "signup";

  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const session = signup ? await api.register(email.trim(), password) : await api.login(email.trim(), password);
      setToken(session.token);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="auth">
      <div class="auth-card">
        <Logo />
        <h1>{signup ? "Create your account" : "Welcome back"}</h1>
        <p class="muted">
          {signup ? "Describe an app in plain words; Kiln builds it and puts it live." : "Sign in to keep building."}
        </p>
        <form onSubmit={submit} class="form" noValidate>
          <label>
            <span>Email</span>
            <input
              type="email"
              name="email"
              autoComplete="email"
              required
              value={email}
              onInput={(e) => setEmail(e.currentTarget.value)}
            />
          </label>
          <label>
            <span>Password</span>
            <input
              type="password"
              name="password"
              autoComplete={signup ? "new-password" : "current-password"}
              required
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </label>
          {signup && <p class="hint">At least 8 characters.</p>}
          {error && (
            <p class="form-error" role="alert">
              {error}
            </p>
          )}
          <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
            {busy && <Spinner label="Working" />}
            {signup ? "Create account" : "Sign in"}
          </button>
        </form>
        <p class="muted small">
          {signup ? (
            <>
              Already have an account? <a href="/signin">Sign in</a>
            </>
          ) : (
            <>
              New to Kiln? <a href="/signup">Create an account</a>
            </>
          )}
        </p>
      </div>
    </main>
  );
}
