using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Maskwork.Plugins.Video.Readers;

/// <summary>What ffprobe says about a file's first video stream.</summary>
/// <param name="Frames">The container's frame count, else duration × frame rate rounded, else null.</param>
public sealed record VideoProbe(int Width, int Height, double FrameRate, double? DurationS, int? Frames);

/// <summary>A file that ffprobe or ffmpeg could not use, with the reason.</summary>
public sealed class VideoDecodeException(string reason) : Exception(reason);

/// <summary>
/// The system's <c>ffprobe</c> and <c>ffmpeg</c> as child processes (Debian package <c>ffmpeg</c>; paths
/// from <c>MASKWORK_FFMPEG</c> / <c>MASKWORK_FFPROBE</c> when set). Decoding is strict: raw frames come
/// through a pipe in exact frame-sized reads, stderr is drained on its own task (a full pipe would stall
/// ffmpeg), a partial last frame, a non-zero exit (with <c>-xerror</c>: any corrupt packet), no frames at
/// all, or a decode that outlives its time limit are errors that name the cause.
/// </summary>
public static class Ffmpeg
{
    public static string FfmpegPath => Environment.GetEnvironmentVariable("MASKWORK_FFMPEG") is { Length: > 0 } p ? p : "ffmpeg";
    public static string FfprobePath => Environment.GetEnvironmentVariable("MASKWORK_FFPROBE") is { Length: > 0 } p ? p : "ffprobe";

    /// <summary>What to install when the tools are missing.</summary>
    public const string InstallHint = "install it with `apt-get install ffmpeg` (or point MASKWORK_FFMPEG and MASKWORK_FFPROBE at the binaries)";

    /// <summary>The ffmpeg version line, or null when the binary cannot be started.</summary>
    public static string? Version()
    {
        try
        {
            var (code, stdout, _) = Run(FfmpegPath, ["-hide_banner", "-version"], TimeSpan.FromSeconds(20));
            return code == 0 ? stdout.Split('\n')[0].Trim() : null;
        }
        catch (FileNotFoundException) { return null; }
    }

    /// <summary>Probes the first video stream; throws <see cref="VideoDecodeException"/> for a file ffprobe rejects.</summary>
    public static VideoProbe Probe(string file)
    {
        var (code, stdout, stderr) = Run(FfprobePath, ["-v", "error", "-select_streams", "v:0",
            "-show_entries", "stream=width,height,r_frame_rate,avg_frame_rate,nb_frames,duration:format=duration", "-of", "json", file], TimeSpan.FromSeconds(60));
        if (code != 0) throw new VideoDecodeException($"ffprobe rejects it: {LastLine(stderr, "exit code " + code)}");
        using var doc = JsonDocument.Parse(stdout);
        if (!doc.RootElement.TryGetProperty("streams", out var streams) || streams.GetArrayLength() == 0)
            throw new VideoDecodeException("no video stream");
        var s = streams[0];
        int width = s.TryGetProperty("width", out var w) ? w.GetInt32() : 0, height = s.TryGetProperty("height", out var h) ? h.GetInt32() : 0;
        if (width <= 0 || height <= 0) throw new VideoDecodeException($"video stream has no size ({width}x{height})");
        double rate = Rate(s, "avg_frame_rate") ?? Rate(s, "r_frame_rate") ?? 0;
        double? duration = Number(s, "duration") ?? (doc.RootElement.TryGetProperty("format", out var f) ? Number(f, "duration") : null);
        int? frames = Number(s, "nb_frames") is { } n && n > 0 ? (int)n : duration is { } d && rate > 0 ? (int)Math.Round(d * rate) : null;
        return new VideoProbe(width, height, rate, duration, frames);
    }

    /// <summary>
    /// Decodes <paramref name="file"/> to frames [T, size, size, channels] uint8: the shorter side scaled to
    /// <paramref name="size"/> (bilinear), the centre cropped square, grey or RGB; at most
    /// <paramref name="maxFrames"/> frames when positive.
    /// </summary>
    public static (byte[] Frames, int Count) Decode(string file, VideoProbe probe, int size, int channels, int maxFrames, TimeSpan timeout)
    {
        double scale = size / (double)Math.Min(probe.Width, probe.Height);
        int rw = Math.Max(size, (int)Math.Round(probe.Width * scale)), rh = Math.Max(size, (int)Math.Round(probe.Height * scale));
        var args = new List<string> { "-nostdin", "-hide_banner", "-v", "error", "-xerror", "-i", file, "-an", "-sn", "-dn", "-map", "0:v:0" };
        if (maxFrames > 0) args.AddRange(["-frames:v", maxFrames.ToString(CultureInfo.InvariantCulture)]);
        string filter = rw == probe.Width && rh == probe.Height ? "" : $"scale={rw}:{rh}:flags=bilinear,";
        args.AddRange(["-vf", filter + $"crop={size}:{size}", "-pix_fmt", channels == 1 ? "gray" : "rgb24", "-f", "rawvideo", "-"]);

        int frameBytes = size * size * channels;
        using var process = Start(FfmpegPath, args);
        var stderr = process.StandardError.ReadToEndAsync();
        var frames = new MemoryStream();
        var buffer = new byte[frameBytes];
        int count = 0;
        var stdout = process.StandardOutput.BaseStream;
        var clock = Stopwatch.StartNew();
        try
        {
            while (true)
            {
                int got = ReadFull(stdout, buffer, timeout - clock.Elapsed);
                if (got == 0) break;
                if (got < frameBytes) throw new VideoDecodeException($"short read: the last frame has {got} of {frameBytes} bytes");
                frames.Write(buffer, 0, frameBytes);
                count++;
            }
            if (!process.WaitForExit(Math.Max(1000, (int)(timeout - clock.Elapsed).TotalMilliseconds)))
                throw new VideoDecodeException($"ffmpeg did not finish within {timeout.TotalSeconds:F0} s");
        }
        catch (TimeoutException) { throw new VideoDecodeException($"decoding took longer than {timeout.TotalSeconds:F0} s (data.decode_timeout_s)"); }
        finally
        {
            if (!process.HasExited) { try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } process.WaitForExit(); }
        }
        string errors = stderr.GetAwaiter().GetResult();
        if (process.ExitCode != 0) throw new VideoDecodeException($"ffmpeg failed (exit code {process.ExitCode}) after {count} frames: {LastLine(errors, "no message")}");
        if (count == 0) throw new VideoDecodeException("ffmpeg decoded no frames");
        return (frames.ToArray(), count);
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the stream ends; the bytes read.</summary>
    static int ReadFull(Stream stream, byte[] buffer, TimeSpan left)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            if (left <= TimeSpan.Zero) throw new TimeoutException();
            var read = stream.ReadAsync(buffer, total, buffer.Length - total);
            if (!read.Wait(left)) throw new TimeoutException();
            if (read.Result == 0) break;
            total += read.Result;
        }
        return total;
    }

    static Process Start(string exe, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, CreateNoWindow = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        try { return Process.Start(info) ?? throw new FileNotFoundException($"{exe} could not be started; {InstallHint}"); }
        catch (Win32Exception e) { throw new FileNotFoundException($"{exe} not found ({e.Message}); {InstallHint}", e); }
    }

    static (int Code, string Stdout, string Stderr) Run(string exe, IEnumerable<string> args, TimeSpan timeout)
    {
        using var process = Start(exe, args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new VideoDecodeException($"{Path.GetFileName(exe)} did not finish within {timeout.TotalSeconds:F0} s");
        }
        return (process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    static string LastLine(string text, string fallback)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? fallback : lines[^1];
    }

    static double? Rate(JsonElement e, string name)
    {
        if (!e.TryGetProperty(name, out var v) || v.GetString() is not { } text) return null;
        var parts = text.Split('/');
        if (parts.Length == 2 && double.TryParse(parts[0], CultureInfo.InvariantCulture, out var a) && double.TryParse(parts[1], CultureInfo.InvariantCulture, out var b) && a > 0 && b > 0)
            return a / b;
        return null;
    }

    static double? Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && double.TryParse(v.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null;
}
