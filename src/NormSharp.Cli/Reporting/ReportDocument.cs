using System.Net;
using System.Text;

namespace NormSharp.Cli.Reporting;

/// <summary>
/// A report as a list of blocks (headings, paragraphs, bullet lists, tables, figures), rendered
/// both to Markdown (figures linked by file name) and to a self-contained HTML page (figures
/// embedded as base64 data URIs, so the page can be mailed or moved on its own).
/// </summary>
internal sealed class ReportDocument(string title)
{
    private readonly List<Block> blocks = [];

    public ReportDocument Heading(string text, int level = 2) => Add(new Block.Heading(text, level));

    /// <summary>A paragraph; **bold** and `code` spans are kept in Markdown and converted in HTML.</summary>
    public ReportDocument Paragraph(string text) => Add(new Block.Paragraph(text));

    public ReportDocument Bullets(IEnumerable<string> items) => Add(new Block.Bullets([.. items]));

    public ReportDocument Table(string[] header, IEnumerable<string[]> rows) => Add(new Block.Table(header, [.. rows]));

    /// <summary>A PNG in the output folder, shown with a caption.</summary>
    public ReportDocument Figure(string fileName, string caption) => Add(new Block.Figure(fileName, caption));

    public string ToMarkdown()
    {
        var md = new StringBuilder($"# {title}\n\n");
        foreach (var block in blocks)
        {
            switch (block)
            {
                case Block.Heading h:
                    md.Append(new string('#', h.Level)).Append(' ').Append(h.Text).Append("\n\n");
                    break;
                case Block.Paragraph p:
                    md.Append(p.Text).Append("\n\n");
                    break;
                case Block.Bullets b:
                    foreach (var item in b.Items)
                    {
                        md.Append("- ").Append(item).Append('\n');
                    }
                    md.Append('\n');
                    break;
                case Block.Table t:
                    md.Append("| ").Append(string.Join(" | ", t.Header)).Append(" |\n");
                    md.Append('|').Append(string.Concat(t.Header.Select(_ => " --- |"))).Append('\n');
                    foreach (var row in t.Rows)
                    {
                        md.Append("| ").Append(string.Join(" | ", row.Select(c => c.Replace("|", "\\|", StringComparison.Ordinal)))).Append(" |\n");
                    }
                    md.Append('\n');
                    break;
                case Block.Figure f:
                    md.Append("![").Append(f.Caption).Append("](").Append(f.FileName).Append(")\n\n*").Append(f.Caption).Append("*\n\n");
                    break;
            }
        }
        return md.ToString();
    }

    /// <summary>The HTML page; <paramref name="readImage"/> returns a figure's bytes (or null to link it instead).</summary>
    public string ToHtml(Func<string, byte[]?> readImage)
    {
        ArgumentNullException.ThrowIfNull(readImage);
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<title>").Append(WebUtility.HtmlEncode(title)).Append("</title>\n<style>\n")
            .Append("body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.5;color:#222}\n")
            .Append("table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .7em;text-align:left}th{background:#f3f3f3}\n")
            .Append("td:not(:first-child){font-variant-numeric:tabular-nums}figure{margin:1.5em 0}img{max-width:100%;border:1px solid #ddd}\n")
            .Append("figcaption{color:#555;font-style:italic}code{background:#f3f3f3;padding:0 .2em}\n</style>\n</head>\n<body>\n")
            .Append("<h1>").Append(WebUtility.HtmlEncode(title)).Append("</h1>\n");
        foreach (var block in blocks)
        {
            switch (block)
            {
                case Block.Heading h:
                    html.Append($"<h{h.Level}>").Append(Inline(h.Text)).Append($"</h{h.Level}>\n");
                    break;
                case Block.Paragraph p:
                    html.Append("<p>").Append(Inline(p.Text)).Append("</p>\n");
                    break;
                case Block.Bullets b:
                    html.Append("<ul>\n");
                    foreach (var item in b.Items)
                    {
                        html.Append("<li>").Append(Inline(item)).Append("</li>\n");
                    }
                    html.Append("</ul>\n");
                    break;
                case Block.Table t:
                    html.Append("<table>\n<tr>").Append(string.Concat(t.Header.Select(c => $"<th>{Inline(c)}</th>"))).Append("</tr>\n");
                    foreach (var row in t.Rows)
                    {
                        html.Append("<tr>").Append(string.Concat(row.Select(c => $"<td>{Inline(c)}</td>"))).Append("</tr>\n");
                    }
                    html.Append("</table>\n");
                    break;
                case Block.Figure f:
                    var bytes = readImage(f.FileName);
                    string source = bytes is null ? WebUtility.HtmlEncode(f.FileName) : "data:image/png;base64," + Convert.ToBase64String(bytes);
                    html.Append("<figure><img src=\"").Append(source).Append("\" alt=\"").Append(WebUtility.HtmlEncode(f.Caption))
                        .Append("\"><figcaption>").Append(Inline(f.Caption)).Append("</figcaption></figure>\n");
                    break;
            }
        }
        return html.Append("</body>\n</html>\n").ToString();
    }

    private ReportDocument Add(Block block)
    {
        blocks.Add(block);
        return this;
    }

    /// <summary>HTML-encodes text and turns Markdown **bold** and `code` spans into tags.</summary>
    private static string Inline(string text)
    {
        var encoded = WebUtility.HtmlEncode(text);
        encoded = System.Text.RegularExpressions.Regex.Replace(encoded, @"\*\*(.+?)\*\*", "<strong>$1</strong>");
        return System.Text.RegularExpressions.Regex.Replace(encoded, "`(.+?)`", "<code>$1</code>");
    }

    private abstract record Block
    {
        public sealed record Heading(string Text, int Level) : Block;

        public sealed record Paragraph(string Text) : Block;

        public sealed record Bullets(string[] Items) : Block;

        public sealed record Table(string[] Header, string[][] Rows) : Block;

        public sealed record Figure(string FileName, string Caption) : Block;
    }
}
