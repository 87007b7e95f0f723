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
    /// <summary>Whether <see cref="Create"/> made the folder (rather than reusing an empty one that was there).</summary>
    private readonly bool created;

    private OutputFolder(string path, bool created)
    {
        Path = path;
        this.created = created;
    }

    /// <summary>The absolute path of the folder.</summary>
    public string Path { get; }

    /// <summary>Files written so far, in order, as names relative to <see cref="Path"/>.</summary>
    public List<string> Files { get; } = [];

    /// <summary>
    /// Creates the folder: <paramref name="requested"/> (from --out) or the timestamped default, relative
    /// to <paramref name="workingDirectory"/> (default: the current directory), and checks that files can be written
    /// in it. Commands call this once their options and inputs have been checked, so that a run that cannot start
    /// leaves no folder behind.
    /// </summary>
    /// <exception cref="IOException">The folder cannot be created or written to; the message names it and says why.</exception>
    public static OutputFolder Create(string? requested, DateTime now, string? workingDirectory = null)
    {
        try
        {
            return CreateWritable(requested, now, workingDirectory);
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            throw new IOException($"Cannot write the output folder {requested ?? "normsharp-out"}: {ex.Message}", ex);
        }
    }

    /// <summary>Deletes the folder if this run created it and wrote nothing into it (a run that failed or was interrupted).</summary>
    public void RemoveIfEmpty()
    {
        if (created && Files.Count == 0 && Directory.Exists(Path) && !Directory.EnumerateFileSystemEntries(Path).Any())
        {
            Directory.Delete(Path);
        }
    }

    private static OutputFolder CreateWritable(string? requested, DateTime now, string? workingDirectory)
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
            bool existed = Directory.Exists(candidate);
            Directory.CreateDirectory(candidate);
            var folder = new OutputFolder(candidate, created: !existed);
            try
            {
                // A folder that exists may still refuse files (permissions, a read-only mount): find out before training.
                string probe = folder.PathOf($".write-test.{Guid.NewGuid():N}.tmp");
                File.WriteAllBytes(probe, []);
                File.Delete(probe);
            }
            catch
            {
                folder.RemoveIfEmpty();
                throw;
            }
            return folder;
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

    /// <summary>
    /// Writes <paramref name="name"/>, or writes it again if this folder's run wrote it before (a checkpoint after each
    /// epoch), through <paramref name="writeAtomically"/>, which must replace the file atomically itself
    /// (<see cref="NormSharp.Serialization.Checkpoint.Save(string, NormSharp.Nn.Module, NormSharp.Optim.Optimizer?, IReadOnlyDictionary{string, string}?)"/> does).
    /// </summary>
    /// <exception cref="IOException">The file exists and this run did not write it.</exception>
    public string Rewrite(string name, Action<string> writeAtomically)
    {
        ArgumentNullException.ThrowIfNull(writeAtomically);
        string final = PathOf(name);
        bool ours = Files.Contains(name);
        if (!ours && File.Exists(final))
        {
            throw new IOException($"{final} already exists; NormSharp never overwrites output.");
        }
        writeAtomically(final);
        if (!ours)
        {
            Files.Add(name);
        }
        return final;
    }

    /// <summary>Writes text (UTF-8, no byte order mark) atomically.</summary>
    public string WriteText(string name, string text) =>
        Write(name, temporary => File.WriteAllText(temporary, text, new UTF8Encoding(false)));
}
