export default function Home() {
  return (
    <ul>
      <li>
        <a href="/client">client component</a>
      </li>
      <li>
        <a href="/action">server action</a>
      </li>
      <li>
        <a href="/series">series with progress</a>
      </li>
    </ul>
  );
}
