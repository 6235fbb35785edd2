// MSBuild inline task (RoslynCodeTaskFactory). TorchSharp's libLibTorchSharp.so asks for
// GLIBCXX_3.4.32 for one symbol (_ZSt21ios_base_library_initv, an iostream-init anchor that is
// never called). Older libstdc++ (Debian 12: 3.4.30) refuses the load. Marking that one version
// requirement weak (VER_FLG_WEAK in .gnu.version_r) lets the loader accept the library.
// See DESIGN.md section 7.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class PatchGlibcxxVersionNeed : Task
{
    [Required] public string LibraryPath { get; set; } = "";
    [Required] public string Version { get; set; } = "";
    public string SystemLibStdCxx { get; set; } = "";

    public override bool Execute()
    {
        if (!File.Exists(LibraryPath)) { Log.LogMessage(MessageImportance.Low, "No " + LibraryPath); return true; }
        string sys = FindSystemLibStdCxx();
        if (sys.Length > 0 && Contains(File.ReadAllBytes(sys), Encoding.ASCII.GetBytes(Version + "\0")))
        {
            Log.LogMessage(MessageImportance.Low, sys + " provides " + Version + "; no patch needed.");
            return true;
        }
        byte[] elf = File.ReadAllBytes(LibraryPath);
        int changed = MarkWeak(elf, Version);
        if (changed < 0) { Log.LogWarning("{0} is not a 64-bit little-endian ELF file; not patched.", LibraryPath); return true; }
        if (changed > 0)
        {
            // Keep the copied file's timestamp so incremental builds see it as unchanged and do not
            // re-copy the unpatched original over it (which would leave a window with an unloadable library).
            DateTime stamp = File.GetLastWriteTimeUtc(LibraryPath);
            string tmp = LibraryPath + ".patching";
            File.WriteAllBytes(tmp, elf);
            File.SetLastWriteTimeUtc(tmp, stamp);
            File.Copy(tmp, LibraryPath, true);
            File.SetLastWriteTimeUtc(LibraryPath, stamp);
            File.Delete(tmp);
            Log.LogMessage(MessageImportance.High, "Maskwork: marked " + Version + " weak in " + LibraryPath + " (system libstdc++ lacks it).");
        }
        return true;
    }

    string FindSystemLibStdCxx()
    {
        if (SystemLibStdCxx.Length > 0 && File.Exists(SystemLibStdCxx)) return SystemLibStdCxx;
        foreach (var dir in new[] { "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib/x86_64-linux-gnu" })
        {
            string p = Path.Combine(dir, "libstdc++.so.6");
            if (File.Exists(p)) return p;
        }
        return "";
    }

    static bool Contains(byte[] hay, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= hay.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && hay[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }

    // Returns the number of entries changed, or -1 when the file is not ELF64 LE.
    static int MarkWeak(byte[] b, string version)
    {
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F' || b[4] != 2 || b[5] != 1) return -1;
        long shoff = BitConverter.ToInt64(b, 0x28);
        int shentsize = BitConverter.ToUInt16(b, 0x3A), shnum = BitConverter.ToUInt16(b, 0x3C);
        int changed = 0;
        for (int i = 0; i < shnum; i++)
        {
            long sh = shoff + (long)i * shentsize;
            if (BitConverter.ToUInt32(b, (int)sh + 4) != 0x6ffffffe) continue; // SHT_GNU_verneed
            long off = BitConverter.ToInt64(b, (int)sh + 24);
            int link = (int)BitConverter.ToUInt32(b, (int)sh + 40), count = (int)BitConverter.ToUInt32(b, (int)sh + 44);
            long strOff = BitConverter.ToInt64(b, (int)(shoff + (long)link * shentsize) + 24);
            long vn = off;
            for (int n = 0; n < count; n++)
            {
                int cnt = BitConverter.ToUInt16(b, (int)vn + 2);
                long aux = vn + BitConverter.ToUInt32(b, (int)vn + 8);
                for (int a = 0; a < cnt; a++)
                {
                    long name = strOff + BitConverter.ToUInt32(b, (int)aux + 8);
                    int end = Array.IndexOf(b, (byte)0, (int)name);
                    string s = Encoding.ASCII.GetString(b, (int)name, end - (int)name);
                    ushort flags = BitConverter.ToUInt16(b, (int)aux + 4);
                    if (s == version && (flags & 2) == 0)
                    {
                        BitConverter.GetBytes((ushort)(flags | 2)).CopyTo(b, (int)aux + 4);
                        changed++;
                    }
                    aux += BitConverter.ToUInt32(b, (int)aux + 12);
                }
                vn += BitConverter.ToUInt32(b, (int)vn + 12);
            }
        }
        return changed;
    }
}
