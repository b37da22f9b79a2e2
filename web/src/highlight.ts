// A small syntax highlighter for the code view: JavaScript/TypeScript, JSON, CSS, HTML and SQL
// are split into tokens (comments, strings, keywords, numbers, tags); everything else is plain.
// Tokens become text nodes in spans, never HTML, so file content cannot inject markup.

export type Token = { text: string; kind: "" | "com" | "str" | "kw" | "num" | "tag" | "attr" | "fn" };

const JS_KW =
  "await break case catch class const continue default delete do else export extends false finally for from function if import in instanceof let new null of return static super switch this throw true try typeof undefined var void while yield async";
const SQL_KW =
  "select from where insert into values update set delete create table index if not exists primary key references integer text real null default on and or order by alter add column drop unique autoincrement check cascade foreign";
const CSS_KW = "important media root";

function rules(lang: string): [RegExp, Token["kind"]][] {
  const kw = (words: string, flags = "") => new RegExp(`\\b(?:${words.split(" ").join("|")})\\b`, "y" + flags);
  switch (lang) {
    case "html":
      return [
        [/<!--[\s\S]*?-->/y, "com"],
        [/<\/?[a-zA-Z][\w-]*/y, "tag"],
        [/\/?>/y, "tag"],
        [/"[^"]*"|'[^']*'/y, "str"],
        [/[a-zA-Z-:]+(?==)/y, "attr"],
      ];
    case "css":
      return [
        [/\/\*[\s\S]*?\*\//y, "com"],
        [/"[^"]*"|'[^']*'/y, "str"],
        [/#[0-9a-fA-F]{3,8}\b|-?\d*\.?\d+(?:px|rem|em|%|vh|vw|s|ms)?/y, "num"],
        [/[a-z-]+(?=\s*:)/y, "attr"],
        [kw(CSS_KW), "kw"],
      ];
    case "sql":
      return [
        [/--[^\n]*/y, "com"],
        [/'(?:[^']|'')*'/y, "str"],
        [/\b\d+\b/y, "num"],
        [kw(SQL_KW, "i"), "kw"],
      ];
    case "json":
      return [
        [/"(?:[^"\\]|\\.)*"(?=\s*:)/y, "attr"],
        [/"(?:[^"\\]|\\.)*"/y, "str"],
        [/-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y, "num"],
        [/\b(?:true|false|null)\b/y, "kw"],
      ];
    case "js":
      return [
        [/\/\/[^\n]*|\/\*[\s\S]*?\*\//y, "com"],
        [/`(?:[^`\\]|\\.)*`|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/y, "str"],
        [/\b\d+(?:\.\d+)?\b/y, "num"],
        [kw(JS_KW), "kw"],
        [/[A-Za-z_$][\w$]*(?=\s*\()/y, "fn"],
      ];
    default:
      return [];
  }
}

export function languageOf(path: string): string {
  const ext = path.split(".").pop()?.toLowerCase() ?? "";
  if (["js", "mjs", "cjs", "ts", "tsx", "jsx"].includes(ext)) return "js";
  if (ext === "htm" || ext === "html") return "html";
  if (ext === "css" || ext === "json" || ext === "sql") return ext;
  return "";
}

export function highlight(code: string, lang: string): Token[] {
  const rs = rules(lang);
  const out: Token[] = [];
  let plain = "";
  let i = 0;
  outer: while (i < code.length) {
    for (const [re, kind] of rs) {
      re.lastIndex = i;
      const m = re.exec(code);
      if (m && m[0].length > 0) {
        if (plain) out.push({ text: plain, kind: "" }), (plain = "");
        out.push({ text: m[0], kind });
        i += m[0].length;
        continue outer;
      }
    }
    // Skip a whole word at once so keywords never match inside identifiers.
    const word = /[\w$]+|[^\w$]/y;
    word.lastIndex = i;
    const w = word.exec(code)![0];
    plain += w;
    i += w.length;
  }
  if (plain) out.push({ text: plain, kind: "" });
  return out;
}
