package dev.baton.model;

/** GGUF metadata value types with their ids from the GGUF spec. */
public enum GgufValueType {
  UINT8(0),
  INT8(1),
  UINT16(2),
  INT16(3),
  UINT32(4),
  INT32(5),
  FLOAT32(6),
  BOOL(7),
  STRING(8),
  ARRAY(9),
  UINT64(10),
  INT64(11),
  FLOAT64(12);

  /** The id written in the file. */
  public final int id;

  GgufValueType(int id) {
    this.id = id;
  }

  /** The type with id {@code id}; an unknown id is a {@link ModelFormatException}. */
  public static GgufValueType fromId(int id) {
    GgufValueType[] all = values();
    if (id >= 0 && id < all.length) {
      return all[id];
    }
    throw new ModelFormatException("unknown GGUF metadata value type " + id);
  }

  /** Size in bytes of one scalar of this type; -1 for STRING and ARRAY. */
  int scalarBytes() {
    return switch (this) {
      case UINT8, INT8, BOOL -> 1;
      case UINT16, INT16 -> 2;
      case UINT32, INT32, FLOAT32 -> 4;
      case UINT64, INT64, FLOAT64 -> 8;
      case STRING, ARRAY -> -1;
    };
  }
}
