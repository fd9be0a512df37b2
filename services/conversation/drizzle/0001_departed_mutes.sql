CREATE TABLE "conversation"."departed_mutes" (
	"conversation_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"departed_at" timestamp with time zone NOT NULL,
	CONSTRAINT "departed_mutes_conversation_id_user_id_pk" PRIMARY KEY("conversation_id","user_id")
);
--> statement-breakpoint
ALTER TABLE "conversation"."departed_mutes" ADD CONSTRAINT "departed_mutes_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "conversation"."conversations"("id") ON DELETE cascade ON UPDATE no action;