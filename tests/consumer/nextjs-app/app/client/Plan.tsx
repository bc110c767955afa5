"use client";

import init, { planPositions } from "drillgen";
import { useEffect, useState } from "react";

export function Plan() {
  const [text, setText] = useState("loading");
  useEffect(() => {
    init()
      .then(() => setText(JSON.stringify(planPositions({ targetDrillCount: 20, gamePhases: ["EARLY", "MIDDLE"] }).perPhase)))
      .catch((e: unknown) => setText(`error: ${String(e)}`));
  }, []);
  return <pre id="plan">{text}</pre>;
}
