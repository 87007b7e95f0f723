using System.Text;

namespace NormSharp.Cli.Reporting;

/// <summary>
/// The folder a command writes into, never overwriting anything: by default
/// <c>./normsharp-out/&lt;yyyyMMdd-HHmmss&gt;</c>; a folder that already exists and is not empty gets a
/// suffix (-2, -3, ...). Files are written to a temporary name and renamed into place, so a file
/// that exists is complete.
/// </summary>
internal sealed class OutputFolder
{
    private OutputFolder(string path) => Path = path;

    /// <summary>The absolute path of the folder.</summary>
    public string Path { get; }

    /// <summary>Files written so far, in order, as names relative to <see cref="Path"/>.</summary>
    public List<string> Files { get; } = [];

    /// <summary>
    /// Creates the folder: <paramref name="requested"/> (from --out) or the timestamped default, relative
    /// to <paramref name="workingDirectory"/> (default: the current directory).
    /// </summary>
    public static OutputFolder Create(string? requested, DateTime now, string? workingDirectory = null)
    {
        string basePath = System.IO.Path.GetFullPath(
            requested ?? System.IO.Path.Combine("normsharp-out", now.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture)),
            workingDirectory ?? Environment.CurrentDirectory);
        for (int attempt = 1; ; attempt++)
        {
            string candidate = attempt == 1 ? basePath : $"{basePath}-{attempt}";
            if (File.Exists(candidate))
            {
                continue;
            }
            if (Directory.Exists(candidate) && Directory.EnumerateFileSystemEntries(candidate).Any())
            {
                continue;
            }
            Directory.CreateDirectory(candidate);
            return new OutputFolder(candidate);
        }
    }

    /// <summary>The full path of a file in the folder.</summary>
    public string PathOf(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Writes <paramref name="name"/> through <paramref name="write"/> (which gets a temporary path) and renames it into place.</summary>
    /// <exception cref="IOException">The file already exists.</exception>
    public string Write(string name, Action<string> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        string final = PathOf(name);
        if (File.Exists(final))
        {
            throw new IOException($"{final} already exists; NormSharp never overwrites output.");
        }
        string temporary = PathOf($".{System.IO.Path.GetFileNameWithoutExtension(name)}.{Guid.NewGuid():N}.tmp{System.IO.Path.GetExtension(name)}");
        try
        {
            write(temporary);
            File.Move(temporary, final, overwrite: false);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
        Files.Add(name);
        return final;
    }

    /// <summary>Writes text (UTF-8, no byte order mark) atomically.</summary>
    public string WriteText(string name, string text) =>
        Write(name, temporary => File.WriteAllText(temporary, text, new UTF8Encoding(false)));
}
