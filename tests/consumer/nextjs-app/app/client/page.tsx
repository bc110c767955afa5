import { Plan } from "./Plan";

export default function ClientPage() {
  return <Plan />;
}
