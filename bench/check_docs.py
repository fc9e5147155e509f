"""`just docs-check`: the docs stay true to the repository.

- every relative link in README.md and docs/*.md points at a file that exists, and every
  `#anchor` at a heading of that file (GitHub's slug rules);
- the runbook sections named in the CDK app's alarm descriptions exist;
- the cost tables in docs/cost.md are exactly what bench/cost_model.py prints.

Exits non-zero with one line per problem.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading):
    text = re.sub(r"[`*]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    found = set()
    in_code = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("```"):
                in_code = not in_code
            elif not in_code and line.startswith("#"):
                found.add(slug(line.lstrip("#")))
    return found


def check_links(problems):
    files = [os.path.join(ROOT, "README.md")] + [
        os.path.join(ROOT, "docs", n) for n in sorted(os.listdir(os.path.join(ROOT, "docs"))) if n.endswith(".md")
    ]
    for path in files:
        text = open(path, encoding="utf-8").read()
        text = re.sub(r"```.*?```", "", text, flags=re.S)
        for target in LINK.findall(text):
            if re.match(r"^[a-z]+:", target):
                continue
            file_part, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            where = os.path.relpath(path, ROOT)
            if not os.path.exists(dest):
                problems.append(f"{where}: link to missing {file_part}")
            elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                problems.append(f"{where}: no heading #{anchor} in {os.path.relpath(dest, ROOT)}")


def check_runbooks(problems):
    """Alarm descriptions in the CDK app name a runbook section: it must exist."""
    lib = os.path.join(ROOT, "infra-cdk", "lib")
    for folder, _, names in os.walk(lib):
        for name in names:
            path = os.path.join(folder, name)
            for doc, anchor in re.findall(r"Runbook: (docs/[\w.-]+\.md)#([\w-]+)", open(path, encoding="utf-8").read()):
                full = os.path.join(ROOT, doc)
                if not os.path.exists(full) or anchor not in anchors(full):
                    problems.append(f"{os.path.relpath(path, ROOT)}: runbook {doc}#{anchor} does not exist")


def check_cost(problems):
    printed = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "cost_model.py")], check=True,
                             capture_output=True, text=True).stdout
    doc = open(os.path.join(ROOT, "docs", "cost.md"), encoding="utf-8").read()
    for line in printed.splitlines():
        if line.startswith("|") and line not in doc:
            problems.append(f"docs/cost.md: differs from bench/cost_model.py at: {line}")


def main():
    problems = []
    check_links(problems)
    check_runbooks(problems)
    check_cost(problems)
    for p in problems:
        print(p)
    if problems:
        sys.exit(f"docs-check: {len(problems)} problem(s)")
    print("docs-check: links, anchors and cost tables ok")


if __name__ == "__main__":
    main()
