// The builder's entry: picks the page from the path and the session.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { currentToken, onSessionChange } from "./api";
import { navigate, onLinkClick, usePath } from "./router";
import { AuthPage } from "./pages/auth";
import { Dashboard } from "./pages/dashboard";
import { Workspace } from "./workspace/workspace";
import "./styles.css";

function App() {
  const path = usePath();
  const [token, setTokenState] = useState(currentToken());
  useEffect(() => onSessionChange(() => setTokenState(currentToken())), []);

  const isAuthPage = path === "/signin" || path === "/signup";
  useEffect(() => {
    if (!token && !isAuthPage) navigate("/signin", true);
    if (token && isAuthPage) navigate("/", true);
  }, [token, isAuthPage]);

  if (!token) return isAuthPage ? <AuthPage mode={path === "/signup" ? "signup" : "signin"} /> : null;
  const project = /^\/projects\/([^/]+)\/?$/.exec(path);
  if (project) return <Workspace key={project[1]} id={decodeURIComponent(project[1])} />;
  return <Dashboard />;
}

document.addEventListener("click", onLinkClick);
render(<App />, document.getElementById("app")!);
