"""Writes the browser benchmark's local pages into a directory (served by run.sh).

    python3 pages.py DIR

- index.html: a home page with navigation links, headings, paragraphs and a list;
- form.html: a text input and a "Greet" button whose click changes a paragraph's text
  ("Greeted N times"), the page every click is measured on;
- article.html: a longer page (~8 KB: sections, a table, a code block, links).

No scripts but form.html's inline handler, no external resources: every navigation loads one
HTML document from 127.0.0.1 (plus the favicon request the browser makes by itself).
"""

import pathlib
import sys

HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="icon" href="data:,">
<style>body {{ font-family: sans-serif; max-width: 48rem; margin: 2rem auto; }}
nav a {{ margin-right: 1rem; }} table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #999; padding: .2rem .5rem; }}</style>
</head>
<body>
<nav><a href="/index.html">Home</a><a href="/form.html">Form</a><a href="/article.html">Article</a></nav>
"""

TAIL = """<footer><p>Browser benchmark fixture. <a href="/index.html">Back home</a></p></footer>
</body>
</html>
"""

LOREM = (
    "Headless browsers render the page, run its scripts and expose the result through the "
    "DevTools protocol; an MCP server turns that into tools a model can call. "
)


def index() -> str:
    items = "\n".join(f"<li>Item {i}: {LOREM[: 40 + i * 5]}</li>" for i in range(1, 9))
    return (
        HEAD.format(title="Bench home")
        + f"""<main>
<h1>Bench home</h1>
<p>{LOREM * 2}</p>
<h2>Things to try</h2>
<ul>
{items}
</ul>
<p>Go to the <a href="/form.html">greeting form</a> or read the <a href="/article.html">article</a>.</p>
</main>
"""
        + TAIL
    )


def form() -> str:
    return (
        HEAD.format(title="Greeting form")
        + """<main>
<h1>Greeting form</h1>
<p>Type a name and press the button.</p>
<label for="name">Name</label>
<input id="name" name="name" type="text" value="Ada">
<button id="greet" type="button" onclick="greet()">Greet</button>
<p id="out">Not greeted yet</p>
<script>
let count = 0;
function greet() {
  count += 1;
  document.getElementById("out").textContent =
    "Greeted " + document.getElementById("name").value + " " + count + " times";
}
</script>
</main>
"""
        + TAIL
    )


def article() -> str:
    sections = []
    for s in range(1, 7):
        paragraphs = "\n".join(f"<p>{LOREM * 3}</p>" for _ in range(2))
        sections.append(f"<section>\n<h2>Section {s}</h2>\n{paragraphs}\n</section>")
    rows = "\n".join(
        f"<tr><td>row {r}</td><td>{r * 17 % 101}</td><td><a href=\"/index.html#r{r}\">link {r}</a></td></tr>"
        for r in range(1, 11)
    )
    return (
        HEAD.format(title="Bench article")
        + f"""<main>
<article>
<h1>Bench article</h1>
{chr(10).join(sections)}
<table>
<thead><tr><th>name</th><th>value</th><th>where</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<pre><code>fn main() {{
    println!("hello from the fixture");
}}</code></pre>
</article>
</main>
"""
        + TAIL
    )


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: pages.py DIR")
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, make in (("index.html", index), ("form.html", form), ("article.html", article)):
        (out / name).write_text(make(), encoding="utf-8")


if __name__ == "__main__":
    main()
