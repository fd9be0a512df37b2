CREATE TABLE "notification"."read_marks" (
	"user_id" uuid NOT NULL,
	"conversation_id" uuid NOT NULL,
	"read_seq" integer NOT NULL,
	CONSTRAINT "read_marks_user_id_conversation_id_pk" PRIMARY KEY("user_id","conversation_id")
);
