import { readFileSync } from "node:fs";
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * The job and drive state names, read from the model (one list, no copy to keep in step).
 * Outside src/domain nothing decides by comparing against them: the lifecycle tables do
 * (`decide`, `allowedEvents`, `check`), so every surface asks them instead.
 */
function stateNames() {
  const model = readFileSync(new URL("./src/domain/job/model.ts", import.meta.url), "utf8");
  const names = new Set();
  for (const list of ["JOB_STATES", "DRIVE_STATES"]) {
    const body = new RegExp(`export const ${list} = \\[([^\\]]*)\\]`).exec(model)?.[1];
    if (!body) throw new Error(`eslint.config.js: ${list} not found in src/domain/job/model.ts`);
    for (const m of body.matchAll(/"([A-Za-z]+)"/g)) names.add(m[1]);
  }
  return names;
}
const STATES = stateNames();

const unwrap = (node) =>
  node.type === "ChainExpression" ||
  node.type === "TSNonNullExpression" ||
  node.type === "TSAsExpression"
    ? unwrap(node.expression)
    : node;

/** `x.state`, `x?.state`, `x["state"]`, or a variable named `state` / `…State`. */
function isState(node) {
  const n = unwrap(node);
  if (n.type === "Identifier") return n.name === "state" || /[a-z]State$/.test(n.name);
  if (n.type !== "MemberExpression") return false;
  const p = n.property;
  return n.computed ? p.type === "Literal" && p.value === "state" : p.name === "state";
}

function isStateLiteral(node) {
  const n = unwrap(node);
  if (n.type === "Literal") return typeof n.value === "string" && STATES.has(n.value);
  return (
    n.type === "TemplateLiteral" &&
    n.expressions.length === 0 &&
    STATES.has(n.quasis[0].value.cooked)
  );
}

const MESSAGE =
  "Ask the lifecycle (allowedEvents, check, decide's effects, or a question of src/domain/job) " +
  "instead of comparing a job or drive state; presentation may look states up in a map keyed by state.";

const noStateComparison = {
  meta: { type: "problem", schema: [], messages: { state: MESSAGE } },
  create(context) {
    const report = (node) => context.report({ node, messageId: "state" });
    return {
      BinaryExpression(node) {
        if (!["===", "!==", "==", "!="].includes(node.operator)) return;
        if (
          (isState(node.left) && isStateLiteral(node.right)) ||
          (isStateLiteral(node.left) && isState(node.right))
        )
          report(node);
      },
      SwitchStatement(node) {
        if (!isState(node.discriminant)) return;
        for (const c of node.cases) if (c.test && isStateLiteral(c.test)) report(c);
      },
      // `[...].includes(job.state)`, `states.has(d.state)`, `states.includes("Transferring")`.
      CallExpression(node) {
        const callee = unwrap(node.callee);
        if (callee.type !== "MemberExpression" || callee.computed) return;
        if (!["includes", "has"].includes(callee.property.name)) return;
        const arg = node.arguments[0];
        if (arg && (isState(arg) || isStateLiteral(arg))) report(node);
      },
    };
  },
};

export default tseslint.config(
  { ignores: ["node_modules/", ".test-output/", ".drivebay/", "dist/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        URL: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        setImmediate: "readonly",
        Buffer: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      "no-restricted-syntax": [
        "error",
        {
          selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
          message: "Use the Clock (src/domain/clock.ts) so tests can move time.",
        },
      ],
    },
  },
  {
    files: ["test/**", "bench/**", "scripts/**", "src/cli/**", "src/api/plugins/**", "src/main.ts"],
    rules: { "no-restricted-syntax": "off" },
  },
  {
    files: ["src/**/*.ts"],
    ignores: ["src/domain/**"],
    plugins: { drivebay: { rules: { "no-state-comparison": noStateComparison } } },
    rules: { "drivebay/no-state-comparison": "error" },
  },
);
