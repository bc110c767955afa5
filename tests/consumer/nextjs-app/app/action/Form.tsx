"use client";

import { useActionState } from "react";
import { generate } from "./actions";

export function GenerateForm() {
  const [summary, action, pending] = useActionState(generate, null);
  return (
    <form action={action}>
      <input name="count" defaultValue="15" />
      <button id="generate" type="submit" disabled={pending}>
        Generate
      </button>
      <pre id="result">{summary ? JSON.stringify(summary) : pending ? "pending" : "idle"}</pre>
    </form>
  );
}
