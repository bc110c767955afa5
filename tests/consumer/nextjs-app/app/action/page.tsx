import { GenerateForm } from "./Form";

export default function ActionPage() {
  return <GenerateForm />;
}
