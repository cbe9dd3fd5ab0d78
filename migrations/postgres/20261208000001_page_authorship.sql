-- A page's published date and author, as the page gives them (issue 17): JSON-LD,
-- article:published_time, <meta name="author">, microdata.
ALTER TABLE pages ADD COLUMN published TEXT;
ALTER TABLE pages ADD COLUMN author TEXT;
