using Maskwork.Host.Cli;

namespace Maskwork.Host.Runs;

/// <summary>The run folder of DESIGN.md section 6.</summary>
public sealed class RunFolder
{
    public RunFolder(string path) => Path = System.IO.Path.GetFullPath(path);

    public string Path { get; }
    public string Config => System.IO.Path.Combine(Path, "config.json");
    public string Checkpoints => System.IO.Path.Combine(Path, "checkpoints");
    public string LastCheckpoint => System.IO.Path.Combine(Checkpoints, "last.ckpt");
    public string StepCheckpoint(long step) => System.IO.Path.Combine(Checkpoints, $"step-{step}.ckpt");
    public string Metrics => System.IO.Path.Combine(Path, "metrics.parquet");
    public string LossPlot => System.IO.Path.Combine(Path, "loss.png");
    public string Reconstructions => System.IO.Path.Combine(Path, "reconstructions.png");
    public string Log => System.IO.Path.Combine(Path, "log.txt");

    public static RunFolder Create(string? requested, string runsRoot, string recipe)
    {
        string path = requested ?? System.IO.Path.Combine(runsRoot, $"{recipe.Replace('/', '-')}-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        var folder = new RunFolder(path);
        if (File.Exists(folder.Config))
            throw new CommandException($"{folder.Path} already holds a run; continue it with `maskwork resume --run {folder.Path}` or choose another --out");
        Directory.CreateDirectory(folder.Checkpoints);
        return folder;
    }

    public static RunFolder Open(string path)
    {
        var folder = new RunFolder(path);
        if (!Directory.Exists(folder.Path)) throw new CommandException($"run folder {folder.Path} does not exist");
        if (!File.Exists(folder.Config)) throw new CommandException($"{folder.Path} has no config.json: not a run folder");
        return folder;
    }

    /// <summary>The newest loadable checkpoint: last.ckpt, else the highest step-N.ckpt.</summary>
    public string? NewestCheckpoint()
    {
        if (File.Exists(LastCheckpoint)) return LastCheckpoint;
        if (!Directory.Exists(Checkpoints)) return null;
        return Directory.GetFiles(Checkpoints, "step-*.ckpt")
            .OrderByDescending(f => long.TryParse(System.IO.Path.GetFileNameWithoutExtension(f)[5..], out var s) ? s : -1)
            .FirstOrDefault();
    }

    public void AppendLog(string line)
    {
        try { File.AppendAllText(Log, $"{DateTime.UtcNow:O} {line}{Environment.NewLine}"); }
        catch (IOException) { }
    }
}
