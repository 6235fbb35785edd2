namespace Maskwork.Plugins.Lidar.Sensor;

/// <summary>
/// What the sensor sees, about its origin (0, 0) in grid coordinates: a horizontal field of view centred on a heading,
/// cut into angular sectors, minus the ego vehicle's box.
/// </summary>
/// <param name="FovDegrees">Field of view (360 = all round).</param>
/// <param name="HeadingDegrees">The direction the field of view is centred on, from +x towards +y.</param>
/// <param name="SectorDegrees">Angular width of a sector (R-MAE: 1°; the last sector may be narrower).</param>
/// <param name="EgoBox">xmin, ymin, xmax, ymax of the ego vehicle (cut out of the region of interest), or empty.</param>
public sealed record SensorField(double FovDegrees, double HeadingDegrees, double SectorDegrees, double[] EgoBox)
{
    /// <summary>Sectors across the field of view.</summary>
    public int Sectors => (int)Math.Ceiling(FovDegrees / SectorDegrees - 1e-9);

    /// <summary>The angle (degrees) where sector 0 starts.</summary>
    public double StartDegrees => HeadingDegrees - FovDegrees / 2;

    /// <summary>The sector of a direction (x, y) by <c>atan2</c>, or -1 outside the field of view.</summary>
    public int SectorOf(double x, double y)
    {
        double a = Math.Atan2(y, x) * 180 / Math.PI - StartDegrees;
        a = ((a % 360) + 360) % 360;
        if (a >= FovDegrees) return -1;
        return Math.Min(Sectors - 1, (int)Math.Floor(a / SectorDegrees));
    }

    public void Validate()
    {
        if (FovDegrees is <= 0 or > 360) throw new ArgumentException($"the field of view must be in (0, 360] degrees, got {FovDegrees}");
        if (SectorDegrees <= 0 || SectorDegrees > FovDegrees) throw new ArgumentException($"the sector width must be in (0, fov], got {SectorDegrees}");
        if (EgoBox.Length is not (0 or 4)) throw new ArgumentException($"the ego box is xmin,ymin,xmax,ymax or empty, got {EgoBox.Length} numbers");
        if (EgoBox.Length == 4 && (EgoBox[0] >= EgoBox[2] || EgoBox[1] >= EgoBox[3])) throw new ArgumentException("the ego box's mins must be below its maxes");
    }

    public bool Equals(SensorField? other) => other is not null && FovDegrees == other.FovDegrees && HeadingDegrees == other.HeadingDegrees
        && SectorDegrees == other.SectorDegrees && EgoBox.SequenceEqual(other.EgoBox);

    public override int GetHashCode() => HashCode.Combine(FovDegrees, HeadingDegrees, SectorDegrees, EgoBox.Length == 4 ? EgoBox[0] + 7 * EgoBox[3] : 0);
}
